import type { Command } from 'commander';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { checkWhisperModel, WHISPER_MODELS } from '../speech/models/catalog.js';
import { checkVadModel, probeVadModel, VadModelError } from '../speech/vad/silero.js';
import { ESPEAK_WASM_PACKAGE, espeakWasmModuleUrl } from '../speech/tts/espeak-wasm.js';
import { espeakEngine } from '../speech/tts/index.js';
import { withConfigOption } from './common.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /** what to do when it fails */
  fix?: string;
}

const run = promisify(execFile);
const TIMEOUT_MS = 3000;

export interface CheckOptions {
  /**
   * Also check the peers the bot connects to (Redis, ARI). `voicebot start` leaves them out: it reconnects to them
   * with backoff, and a bot started before its Asterisk must not refuse to start.
   */
  peers?: boolean;
  /** A missing catalog model that start-up will download counts as fine (`voicebot start`). */
  downloadableModelOk?: boolean;
}

/** Each configured dependency gets one check; checks never throw. */
export async function runChecks(config: Config, opts: CheckOptions = {}): Promise<CheckResult[]> {
  const peers = opts.peers ?? true;
  const checks: Array<Promise<CheckResult>> = [];
  checks.push(Promise.resolve({ name: 'config', ok: true, detail: 'configuration is valid' }));
  if (config.speech.asr.provider === 'whisper-cpp')
    checks.push(whisperModel(config, opts.downloadableModelOk ?? false));
  checks.push(vadModel(config));
  if (config.speech.tts.provider === 'espeak-ng') checks.push(espeak(config.speech.tts.espeak));
  if (config.redis && peers) checks.push(redis(config.redis.url));
  const ari = config.telephony.asterisk;
  if (config.telephony.backend === 'asterisk' && ari) {
    // outbound: Asterisk connects to the bot, there is no ARI URL to reach
    if (peers && ari.url) checks.push(ariReachable(ari.url, ari.username, ari.password.reveal()));
    checks.push(rtpPortsFree(ari.rtpPortMin, ari.rtpPortMax, ari.rtpBindHost));
  }
  return Promise.all(checks.map((p) => p.catch((err: unknown) => failed('internal', err))));
}

const failed = (name: string, err: unknown): CheckResult => ({
  name,
  ok: false,
  detail: err instanceof Error ? err.message : String(err),
});

async function whisperModel(config: Config, downloadableOk: boolean): Promise<CheckResult> {
  const wc = config.speech.asr.whisperCpp;
  const r = await checkWhisperModel(wc);
  if (r.ok) return { name: 'whisper model', ok: true, detail: `${r.path} (checksum: ${r.verified})` };
  if (downloadableOk && wc.autoDownload && !wc.modelPath && WHISPER_MODELS[wc.model] && !existsSync(r.path)) {
    return { name: 'whisper model', ok: true, detail: `${r.path} missing: downloading ${wc.model} at start-up` };
  }
  return { name: 'whisper model', ok: false, detail: r.problem, fix: `run: ${r.fix}` };
}

async function vadModel(config: Config): Promise<CheckResult> {
  try {
    const path = checkVadModel(config.speech.vad.modelPath);
    // loaded in a child process: a truncated model passes the header check but aborts whoever loads it
    await probeVadModel(path);
    return { name: 'vad model', ok: true, detail: path };
  } catch (err) {
    if (err instanceof VadModelError) return { name: 'vad model', ok: false, detail: err.problem, fix: err.fix };
    return failed('vad model', err);
  }
}

async function espeak(cfg: Config['speech']['tts']['espeak']): Promise<CheckResult> {
  const name = 'espeak-ng';
  if (espeakEngine(cfg) === 'wasm') {
    if (espeakWasmModuleUrl()) {
      const why = cfg.engine === 'wasm' ? 'engine: wasm' : `${cfg.binary} not found`;
      return { name, ok: true, detail: `WebAssembly build from npm (${ESPEAK_WASM_PACKAGE}; ${why})` };
    }
    return { name, ok: false, detail: `${ESPEAK_WASM_PACKAGE} is not installed`, fix: 'run npm install' };
  }
  try {
    const { stdout } = await run(cfg.binary, ['--version'], { timeout: TIMEOUT_MS });
    return { name, ok: true, detail: stdout.trim().split('\n')[0] ?? cfg.binary };
  } catch {
    return {
      name,
      ok: false,
      detail: `${cfg.binary} not found`,
      fix: 'apt-get install espeak-ng (macOS: brew install espeak-ng), or set speech.tts.espeak.engine: auto',
    };
  }
}

async function redis(url: string): Promise<CheckResult> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // reported through the failed connect below
  try {
    await client.connect();
    const pong = await client.ping();
    return { name: 'redis', ok: pong === 'PONG', detail: `${redactUrl(url)} answered ${pong}` };
  } catch (err) {
    return { ...failed('redis', err), fix: `start redis-server or fix redis.url (${redactUrl(url)})` };
  } finally {
    client.disconnect();
  }
}

async function ariReachable(base: string, user: string, password: string): Promise<CheckResult> {
  const url = new URL('/ari/asterisk/info', base);
  try {
    const res = await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (res.ok) return { name: 'asterisk ari', ok: true, detail: `${url.origin} answered ${res.status}` };
    const fix =
      res.status === 401 ? 'check telephony.asterisk.username/password against ari.conf' : 'check http.conf/ari.conf';
    return { name: 'asterisk ari', ok: false, detail: `${url.origin} answered ${res.status}`, fix };
  } catch (err) {
    return { ...failed('asterisk ari', err), fix: `is Asterisk running with ARI enabled at ${url.origin}?` };
  }
}

/** Bind every port of the range once; any already taken means calls would fail to get media. */
export async function rtpPortsFree(min: number, max: number, host = '0.0.0.0'): Promise<CheckResult> {
  const busy: number[] = [];
  for (let p = min; p <= max; p++) {
    const socket = createSocket('udp4');
    const ok = await new Promise<boolean>((resolveBind) => {
      socket.once('error', () => resolveBind(false));
      socket.bind(p, host, () => resolveBind(true));
    });
    if (!ok) busy.push(p);
    await new Promise<void>((r) => {
      try {
        socket.close(() => r());
      } catch {
        r();
      }
    });
  }
  const name = 'rtp ports';
  if (busy.length === 0) return { name, ok: true, detail: `UDP ${min}-${max} free` };
  const shown = busy.slice(0, 5).join(', ') + (busy.length > 5 ? ', …' : '');
  return {
    name,
    ok: false,
    detail: `${busy.length} of ${max - min + 1} ports in use (${shown})`,
    fix:
      'stop what holds them or change telephony.asterisk.rtpPortMin/rtpPortMax; when Asterisk runs on this host, ' +
      "keep the range apart from rtp.conf's rtpstart-rtpend (Asterisk's own ports): they must not overlap",
  };
}

const redactUrl = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');

export function formatCheck(c: CheckResult): string {
  const line = `${c.ok ? 'PASS' : 'FAIL'}  ${c.name.padEnd(14)} ${c.detail}`;
  return c.ok || !c.fix ? line : `${line}\n      → ${c.fix}`;
}

export function registerDoctorCommand(program: Command): void {
  withConfigOption(program.command('doctor'))
    .description('check each configured dependency and say what to fix')
    .action(async (opts: { config?: string }) => {
      let config: Config;
      try {
        config = loadConfig({ file: opts.config });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        console.log(formatCheck({ name: 'config', ok: false, detail: err.message, fix: `fix ${err.keys.join(', ')}` }));
        process.exit(2);
      }
      const results = await runChecks(config);
      for (const r of results) console.log(formatCheck(r));
      const failures = results.filter((r) => !r.ok).length;
      console.log(failures === 0 ? 'all checks passed' : `${failures} check(s) failed`);
      process.exitCode = failures === 0 ? 0 : 1;
    });
}
