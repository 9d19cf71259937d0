/**
 * One edge under test: the bot (the product, bench/lib/bot-main.ts) in its own process, configured for that
 * edge, and the telephony emulator plus callers here. `runCaller` plays a caller's turns and times each one from
 * its last voiced frame leaving the caller to the first audible bot frame the caller hears; a turn the bot does
 * not answer within REPLY_TIMEOUT_MS is a failure, never a missing sample.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAriEmulator, type AriEmulator } from '../../test/emulators/ari/index.js';
import { startJambonzEmulator, type JambonzEmulator } from '../../test/emulators/jambonz/index.js';
import { vadConfig } from '../../src/speech/config.js';
import { VAD_MODEL } from '../../test/helpers/fixtures.js';
import { BotProcess } from './bot-process.js';
import { asteriskCaller, browserCaller, jambonzCaller, type Edge, type EdgeCaller } from './edge-callers.js';
import { QUIET_MS, matchReply } from './reply-match.js';
import type { Turn } from './turns.js';
import type { BenchWhisper } from './whisper-model.js';

/**
 * A turn's audio before its last second may go this many times faster than real time (BENCH_HEAD_SPEED). Default 1:
 * a real line never bursts, and the Asterisk path's jitter buffer rightly drops a burst, which loses the turn.
 */
export const HEAD_SPEED = Number(process.env.BENCH_HEAD_SPEED ?? 1);
const REALTIME_TAIL_FRAMES = 50;
export const REPLY_TIMEOUT_MS = 8000;
/**
 * speech.vad.inferenceThreads for the bench bot (BENCH_VAD_THREADS): unset, the product default (1, inference in a
 * worker); 0 puts Silero back on the event loop, for before/after comparisons.
 */
export const VAD_THREADS = process.env.BENCH_VAD_THREADS === undefined ? null : Number(process.env.BENCH_VAD_THREADS);
/** What every edge figure says about where the VAD ran. */
export const VAD_FIELDS = { vadInferenceThreads: VAD_THREADS ?? vadConfig.parse({}).inferenceThreads };
/** After a turn failed, how long a late reply may still take to arrive and end before the next turn starts. */
const LATE_REPLY_WAIT_MS = 20_000;
/** What the bot says to every caller turn: random weights recognise no words, so rules NLU finds no intent. */
export const BENCH_REPLY = 'Sorry, say again?';

export interface TurnResult {
  clip: string;
  part: number;
  /** ms from the turn's last voiced frame leaving the caller to the first audible bot frame it hears */
  latencyMs: number | null;
  failure?: string;
  /** the bot was still speaking (earlier audio's reply) when this turn's last voiced frame left */
  overlapped?: boolean;
  /**
   * the reply began sooner after the turn's last voiced frame than the bot's end-of-turn silence lasts: no reply
   * to this speech can, so the bot ended the turn on earlier audio (its VAD heard a pause inside the caller's
   * speech, or missed the last words) and talked while or just after the caller spoke
   */
  early?: boolean;
}

/** The bot ends a turn after this much silence (the product default): no real answer comes sooner. */
export const END_OF_TURN_SILENCE_MS = vadConfig.parse({}).endOfTurnSilenceMs;

export interface EdgeSetup {
  edge: Edge;
  bot: BotProcess;
  newCaller(i: number): Promise<EdgeCaller>;
  close(): Promise<void>;
}

/** The product's config for the bench bot: defaults except what a bench must pin (ports, files, model, reply). */
function botConfig(whisper: BenchWhisper, tmp: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    // BENCH_BOT_LOG=info shows each turn's milestones (speech start/end, recognised, reply) for diagnosis
    log: { level: process.env.BENCH_BOT_LOG ?? 'warn', format: 'json' },
    web: { host: '127.0.0.1', port: 0 },
    speech: {
      vad: { modelPath: VAD_MODEL, ...(VAD_THREADS === null ? {} : { inferenceThreads: VAD_THREADS }) },
      asr: {
        whisperCpp: {
          modelPath: whisper.modelPath,
          autoDownload: false,
          maxTokensPerSecond: whisper.maxTokensPerSecond,
        },
      },
      // every reply is synthesised: a cached prompt would measure the cache, not the TTS
      tts: { cacheEntries: 0 },
    },
    // a short greeting and reply, and no escalation after repeated "no intent" turns: every turn gets a reply
    dialog: { greeting: 'Hello.', clarify: BENCH_REPLY, maxLowConfidenceTurns: 100_000 },
    crm: { sinks: [{ type: 'file', path: join(tmp, 'tickets.jsonl') }], outbox: { dir: join(tmp, 'outbox') } },
    ...extra,
  };
}

export async function setupEdge(
  edge: Edge,
  whisper: BenchWhisper,
  opts: { execArgv?: string[]; speech?: Record<string, unknown> } = {},
): Promise<EdgeSetup> {
  const tmp = mkdtempSync(join(tmpdir(), `vb-bench-${edge}-`));
  const config = (telephony: Record<string, unknown>) => {
    const c = botConfig(whisper, tmp, { telephony });
    if (opts.speech) c.speech = deepMerge(c.speech as Record<string, unknown>, opts.speech);
    return c;
  };
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  const from = (i: number) => `+1555${String(i).padStart(7, '0')}`;
  if (edge === 'asterisk') {
    const emu: AriEmulator = await startAriEmulator();
    const base = 40_000 + Math.floor(Math.random() * 100) * 200;
    const bot = await BotProcess.start(
      config({
        backend: 'asterisk',
        asterisk: {
          url: emu.url,
          username: emu.username,
          password: emu.password,
          rtpHost: '127.0.0.1',
          rtpBindHost: '127.0.0.1',
          rtpPortMin: base,
          rtpPortMax: base + 199,
          recording: { dir: join(tmp, 'rec') },
        },
      }),
      opts,
    );
    await emu.waitFor(() => emu.connectedApps().length > 0, 20_000, 'the bot to connect to ARI');
    return {
      edge,
      bot,
      newCaller: (i) => asteriskCaller(emu, from(i)),
      close: async () => {
        await bot.stop();
        await emu.close();
        cleanup();
      },
    };
  }
  if (edge === 'jambonz') {
    // jambonz is told where the bot listens (its listen WebSocket URL): a known port, not port 0
    const port = await freePort();
    const c = config({
      backend: 'jambonz',
      jambonz: { webhookSecret: 'bench', wsUsername: 'bench', wsPassword: 'bench-ws-password' },
    });
    c.web = { host: '127.0.0.1', port, publicUrl: `http://127.0.0.1:${port}` };
    const bot = await BotProcess.start(c, opts);
    const emu: JambonzEmulator = await startJambonzEmulator({
      appUrl: `${bot.url}/jambonz`,
      mode: 'webhook',
      webhookSecret: 'bench',
    });
    return {
      edge,
      bot,
      newCaller: (i) => jambonzCaller(emu, from(i)),
      close: async () => {
        await emu.close();
        await bot.stop();
        cleanup();
      },
    };
  }
  const bot = await BotProcess.start(config({ backend: 'browser' }), opts);
  return {
    edge,
    bot,
    newCaller: () => browserCaller(bot.url),
    close: async () => {
      await bot.stop();
      cleanup();
    },
  };
}

/** A loopback TCP port free right now (the OS picks it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Resolves true once `pred` holds (checked every 10 ms), false after `timeoutMs`. */
export async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** The bot has finished speaking: something audible after `since`, then QUIET_MS without. */
function replyOver(caller: EdgeCaller, since: number): boolean {
  const last = caller.audible[caller.audible.length - 1];
  return last !== undefined && last >= since && performance.now() - last > QUIET_MS;
}

/** Plays `turns` on one call (greeting first); every turn gets a result. Hangs up at the end. */
export async function runCaller(caller: EdgeCaller, turns: Turn[]): Promise<TurnResult[]> {
  const results: TurnResult[] = [];
  const callStart = performance.now();
  const greeted = (await until(() => replyOver(caller, callStart), 15_000)) || false;
  for (const turn of turns) {
    if (!greeted) {
      results.push({ clip: turn.clip, part: turn.part, latencyMs: null, failure: 'no greeting' });
      continue;
    }
    const frames = Math.ceil(turn.pcm16k.length / 320);
    let lastVoicedAt = 0;
    await caller.speak(
      { pcm16k: turn.pcm16k, realtimeFrom: Math.max(0, frames - REALTIME_TAIL_FRAMES), speed: HEAD_SPEED },
      (i, at) => {
        if (i === turn.lastVoicedFrame) lastVoicedAt = at;
      },
    );
    const answered = await until(() => matchReply(caller.audible, lastVoicedAt).kind === 'answer', REPLY_TIMEOUT_MS);
    const match = matchReply(caller.audible, lastVoicedAt);
    if (!answered || match.kind !== 'answer') {
      const failure =
        match.kind === 'overlap' ? 'bot was replying to earlier audio as the turn ended, no reply after' : 'no reply';
      results.push({ clip: turn.clip, part: turn.part, latencyMs: null, failure });
      // a late reply must play out before the next turn, or it would count as that turn's answer
      await until(() => replyOver(caller, lastVoicedAt), LATE_REPLY_WAIT_MS);
      continue;
    }
    const first = match.at;
    results.push({
      clip: turn.clip,
      part: turn.part,
      latencyMs: first - lastVoicedAt,
      ...(match.overlapped ? { overlapped: true } : {}),
      ...(first - lastVoicedAt < END_OF_TURN_SILENCE_MS ? { early: true } : {}),
    });
    if (!(await until(() => replyOver(caller, first), 20_000))) {
      // the bot never stops talking: later turns would be measured against this reply
      results.push({ clip: turn.clip, part: turn.part, latencyMs: null, failure: 'reply did not end' });
      break;
    }
  }
  await caller.hangup();
  return results;
}
