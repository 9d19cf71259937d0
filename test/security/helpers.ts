/**
 * The security suite attacks the bot from outside, on real sockets (loopback only): each test starts the app the
 * way `voicebot start` does and talks to it over HTTP, WebSocket or raw TCP.
 */
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type RunningApp } from '../../src/app.js';
import { ConfigError, deepMerge, loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { STUB_WHISPER_REL } from '../helpers/fixtures.js';
import { freePort } from '../helpers/redis.js';

export interface SecurityApp {
  app: RunningApp;
  url: string;
  port: number;
  dir: string;
  /** every JSON log line the app wrote */
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** The whole app on a free loopback port with the weightless whisper model, a file sink and outbox in a temp dir. */
export async function startSecurityApp(
  overrides: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
  /** a YAML config file, loaded as `voicebot start --config` does */
  file?: string,
): Promise<SecurityApp> {
  const dir = mkdtempSync(join(tmpdir(), 'vb-security-'));
  const base = {
    web: { port: 0 },
    speech: { asr: { whisperCpp: { modelPath: STUB_WHISPER_REL } } },
    crm: { sinks: [{ type: 'file', path: join(dir, 'tickets.jsonl') }], outbox: { dir: join(dir, 'outbox') } },
  };
  const config = loadConfig({ file, env, overrides: deepMerge(base, overrides) });
  const logs: Array<Record<string, unknown>> = [];
  const sink = { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) };
  const app = await startApp(config, {
    logger: createLogger({ level: 'info', format: 'json', redactPhoneNumbers: false }, sink),
  });
  return { app, url: app.url, port: Number(new URL(app.url).port), dir, logs, stop: () => app.stop() };
}

/** One request with exactly the headers given (fetch would not let us set Host). */
export function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers, signal: AbortSignal.timeout(5000) }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one series from /metrics (0 when absent). */
export async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export const JAMBONZ_SECRET = 'security-webhook-secret';
export const JAMBONZ_WS_AUTH = { username: 'jambonz', password: 'security-ws-password' };

/** The app with the jambonz backend as it must be configured: public URL, webhook secret and WS API credentials. */
export async function startJambonzApp(
  jambonz: Record<string, unknown> = {},
  telephony: Record<string, unknown> = {},
): Promise<SecurityApp> {
  const port = await freePort();
  return startSecurityApp({
    web: { port, publicUrl: `http://127.0.0.1:${port}` },
    telephony: {
      backend: 'jambonz',
      ...telephony,
      jambonz: {
        webhookSecret: JAMBONZ_SECRET,
        wsUsername: JAMBONZ_WS_AUTH.username,
        wsPassword: JAMBONZ_WS_AUTH.password,
        ...jambonz,
      },
    },
  });
}

/** The ConfigError `fn` throws (fails the test when it throws nothing or something else). */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
