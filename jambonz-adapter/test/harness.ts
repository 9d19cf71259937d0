import type { FastifyInstance } from 'fastify';
import { type Clock, createMetrics } from 'voicebot/core';
import { createLogger, type Logger } from 'voicebot/log';
import { createWebServer } from 'voicebot/web';
import { telephonyConfig } from 'voicebot/telephony';
import type { Registry } from 'prom-client';
import { createJambonzBackend, registerJambonz, type JambonzBackend, type JambonzConfig } from '../src/index.js';
import type { JambonzCallLeg } from '../src/call-leg.js';
import {
  startJambonzEmulator,
  type JambonzEmulator,
  type JambonzEmulatorOptions,
} from '../../test/emulators/jambonz/index.js';
import { waitFor as sharedWaitFor } from '../../test/helpers/wait.js';
import type { CallInfo, EmulatedCall } from '../../test/emulators/jambonz/call.js';

export const SECRET = 'wh-secret-for-tests';

/** Resolves once `predicate` holds; polls every 10 ms, bounded by `timeoutMs`. */
export const waitFor = (predicate: () => boolean, timeoutMs = 5000, what = 'condition') =>
  sharedWaitFor(predicate, timeoutMs, what, 10);

export function tone(ms: number, rate: number, freq = 440, amp = 8000): Int16Array {
  const out = new Int16Array((rate * ms) / 1000);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * freq * i) / rate));
  return out;
}

export interface Harness {
  backend: JambonzBackend;
  web: FastifyInstance;
  metrics: Registry;
  /** http://127.0.0.1:PORT/jambonz */
  appUrl: string;
  logs: string[];
  legs: JambonzCallLeg[];
  nextLeg(timeoutMs?: number): Promise<JambonzCallLeg>;
  /** Place a call from `emu` and wait until the bot's leg has its audio socket. */
  callIn(emu: JambonzEmulator, info: CallInfo): Promise<{ call: EmulatedCall; leg: JambonzCallLeg }>;
  emulator(opts?: Partial<JambonzEmulatorOptions>): Promise<JambonzEmulator>;
  counter(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

/** A real fastify server (with @fastify/websocket) running the jambonz backend, and emulators against it. */
export async function startHarness(
  overrides: Partial<Record<keyof JambonzConfig, unknown>> = {},
  opts: { clock?: Clock } = {},
): Promise<Harness> {
  const logs: string[] = [];
  const sink = { write: (line: string) => void logs.push(line) };
  const logger: Logger = createLogger({ level: 'debug', format: 'json', redactPhoneNumbers: false }, sink);
  const metrics = createMetrics(false);
  const parsed = telephonyConfig.parse({
    backend: 'jambonz',
    jambonz: { webhookSecret: SECRET, reconnectGraceMs: 400, ...overrides },
  });
  const config = parsed.jambonz!;
  const backend = createJambonzBackend(config, { logger, metrics, ...(opts.clock ? { clock: opts.clock } : {}) });
  const web = await createWebServer({ logger, metrics });
  await registerJambonz(web, { backend });
  const base = await web.listen({ host: '127.0.0.1', port: 0 });
  const appUrl = `${base}/jambonz`;
  const legs: JambonzCallLeg[] = [];
  const waiting: ((leg: JambonzCallLeg) => void)[] = [];
  await backend.start(async (leg) => {
    const jl = leg as JambonzCallLeg;
    legs.push(jl);
    waiting.shift()?.(jl);
    await jl.closed;
  });
  const emulators: JambonzEmulator[] = [];
  const harness: Harness = {
    backend,
    web,
    metrics,
    appUrl,
    logs,
    legs,
    nextLeg(timeoutMs = 5000) {
      const seen = legs.length;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no call reached the bot')), timeoutMs);
        waiting.push((leg) => {
          clearTimeout(timer);
          resolve(leg);
        });
        if (legs.length > seen) waiting.pop()?.(legs[legs.length - 1]!);
      });
    },
    async callIn(emu, info) {
      const legP = harness.nextLeg();
      const call = await emu.placeCall(info);
      const leg = await legP;
      await attached(leg);
      return { call, leg };
    },
    async emulator(opts = {}) {
      const emu = await startJambonzEmulator({ appUrl, mode: 'webhook', webhookSecret: SECRET, ...opts });
      emulators.push(emu);
      return emu;
    },
    async counter(name, labels = {}) {
      const metric = (await metrics.getMetricsAsJSON()).find((m) => m.name === name);
      const values = (metric?.values ?? []) as { value: number; labels: Record<string, string> }[];
      return values
        .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
        .reduce((n, v) => n + v.value, 0);
    },
    async close() {
      // Every verb array the bot produced went through @jambonz/verb-specifications in the emulator.
      const invalid = emulators.flatMap((e) => e.calls.flatMap((c) => c.verbErrors));
      for (const emu of emulators) await emu.close();
      await backend.stop();
      await web.close();
      if (invalid.length > 0) throw new Error(`invalid verbs from the bot: ${invalid.join('; ')}`);
    },
  };
  return harness;
}

/** The bot side has the listen socket (metadata received), not just the emulator's side open. */
export async function attached(leg: JambonzCallLeg, timeoutMs = 3000): Promise<void> {
  await waitFor(() => leg.hasAudio, timeoutMs, 'audio socket attached to the leg');
}
