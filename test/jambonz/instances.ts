/**
 * Bot instances on the jambonz backend for takeover tests and the takeover bench: each a web server with the jambonz
 * routes, the call core on scripted speech, and a way to die like `kill -9` (in-process): its sockets destroyed and
 * its port closed, its timers stopped, and every store or sink it would touch afterwards refusing (KillSwitch), so a dead
 * instance has no effect on the world, as a killed process has none. Instances share a session store, leases and a
 * record sink, and sit behind a balancer (test/helpers/http-balancer.ts).
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { createMetrics } from '../../src/core/metrics.js';
import type { Clock } from '../../src/core/clock.js';
import type { CallEvent } from '../../src/core/call-events.js';
import type { CallRecord, CallRecordSink } from '../../src/core/call-record.js';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps, ToneTts, type TestDeps } from '../../src/dialog/scripted.js';
import { createLogger } from '../../src/log/logger.js';
import type { LeaseStore } from '../../src/session/lease.js';
import type { SessionStore } from '../../src/session/store.js';
import { callRegistry } from '../../src/telephony/backends.js';
import { telephonyConfig } from '../../src/telephony/config.js';
import { createWebServer } from '../../src/web/server.js';
import { createJambonzBackend, registerJambonz, type JambonzBackend } from '../../jambonz-adapter/src/index.js';
import { startJambonzEmulator, type EmulatedCall, type JambonzEmulator } from '../emulators/jambonz/index.js';
import { startHttpBalancer, type HttpBalancer } from '../helpers/http-balancer.js';
import { KillSwitch } from '../helpers/kill-switch.js';
import { freePort } from '../helpers/redis.js';

export const GREETING = 'Hello, how can I help?';
export const RESUME_PROMPT = 'Sorry, where were we?';
export const INTENTS = [
  { name: 'billing', keywords: ['bill'], responses: ['Billing answer.'] },
  { name: 'cancel', keywords: ['cancel'], responses: ['Order cancelled.'] },
];
export const WEBHOOK_SECRET = 'takeover-webhook-secret';

/** The system clock until `kill()`: then every timer it holds is cleared and no new one ever fires. */
export class KillableClock implements Clock {
  readonly #timers = new Set<NodeJS.Timeout>();
  #dead = false;
  now = (): number => Date.now();
  setTimeout(fn: () => void, ms: number): unknown {
    if (this.#dead) return null;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }
  clearTimeout(handle: unknown): void {
    if (!handle) return;
    clearTimeout(handle as NodeJS.Timeout);
    this.#timers.delete(handle as NodeJS.Timeout);
  }
  kill(): void {
    this.#dead = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

export interface Shared {
  sessions: SessionStore;
  leases: LeaseStore;
  records: CallRecordSink;
  leaseMs: number;
  reconnectGraceMs: number;
}

export interface BotInstance {
  id: string;
  port: number;
  backend: JambonzBackend;
  deps: TestDeps;
  metrics: Registry;
  /** what runCall returned for each call this instance ran */
  finished: CallRecord[];
  readonly dead: boolean;
  /** like kill -9: no cleanup, no goodbye */
  kill(): void;
  /** orderly stop (test teardown of a live instance) */
  stop(): Promise<void>;
}

/** One bot instance: jambonz URLs through the balancer (`publicUrl`), listen sockets straight to itself. */
export async function startInstance(
  id: string,
  shared: Shared,
  opts: { publicUrl: string; asrScript: string[]; config?: Record<string, unknown>; logs?: string[] },
): Promise<BotInstance> {
  const killSwitch = new KillSwitch();
  const clock = new KillableClock();
  const sessions = killSwitch.wrap(shared.sessions);
  const leases = killSwitch.wrap(shared.leases);
  const records = killSwitch.wrap(shared.records);
  const deps = createTestDeps({
    asrScript: opts.asrScript,
    records,
    sessions,
    tts: new ToneTts({ msPerChar: 10 }),
    clock,
    config: {
      dialog: { greeting: GREETING, intents: INTENTS, resumePrompt: RESUME_PROMPT },
      session: { leaseMs: shared.leaseMs },
      ...opts.config,
    },
  });
  deps.instanceId = id;
  deps.leases = leases;
  // the log lines, when the test reads them (as the product writes them: phone numbers redacted)
  const logs = opts.logs;
  const logger = logs
    ? createLogger({ level: 'info', format: 'json', redactPhoneNumbers: true }, { write: (l) => void logs.push(l) })
    : createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });
  const metrics = createMetrics(false);
  const port = await freePort();
  const config = telephonyConfig.parse({
    backend: 'jambonz',
    jambonz: {
      webhookSecret: WEBHOOK_SECRET,
      publicUrl: opts.publicUrl,
      instanceUrl: `http://127.0.0.1:${port}`,
      reconnectGraceMs: shared.reconnectGraceMs,
    },
  }).jambonz!;
  const backend = createJambonzBackend(config, {
    logger,
    metrics,
    clock,
    registry: callRegistry(sessions, leases, Math.max(shared.leaseMs, shared.reconnectGraceMs) + 1000),
  });
  const web: FastifyInstance = await createWebServer({ logger, metrics });
  await registerJambonz(web, { backend });
  const sockets = new Set<Socket>();
  web.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await web.listen({ host: '127.0.0.1', port });
  const finished: CallRecord[] = [];
  await backend.start(async (leg) => void finished.push(await runCall(leg, deps)));
  return {
    id,
    port,
    backend,
    deps,
    metrics,
    finished,
    get dead() {
      return killSwitch.dead;
    },
    kill() {
      killSwitch.kill();
      clock.kill();
      web.server.close();
      for (const socket of sockets) socket.destroy();
    },
    async stop() {
      if (killSwitch.dead) return;
      await backend.stop();
      await web.close();
    },
  };
}

export interface TakeoverRig {
  a: BotInstance;
  b: BotInstance;
  balancer: HttpBalancer;
  emu: JambonzEmulator;
  /** stops the emulator, the live instances and the balancer (the shared stores are the caller's) */
  close(): Promise<void>;
}

/**
 * Instances A and B behind one balancer, and jambonz (the emulator) reaching them through it. The balancer's first
 * pick is A, so a call placed first is A's.
 */
export async function startTakeoverRig(
  mode: 'ws' | 'webhook',
  shared: Shared,
  scripts: { a: string[]; b: string[] },
  /** more of the call core's config, layered over the rig's (both instances) */
  config?: Record<string, unknown>,
  /** where each instance's log lines go (info and up); absent: silent */
  logs?: { a?: string[]; b?: string[] },
): Promise<TakeoverRig> {
  const ports: number[] = [];
  // the balancer first: its URL is the public URL both instances put in their hooks
  const balancer = await startHttpBalancer(ports);
  const publicUrl = balancer.url;
  const more = (lines?: string[]) => ({ ...(config ? { config } : {}), ...(lines ? { logs: lines } : {}) });
  const a = await startInstance('bot-a', shared, { publicUrl, asrScript: scripts.a, ...more(logs?.a) });
  const b = await startInstance('bot-b', shared, { publicUrl, asrScript: scripts.b, ...more(logs?.b) });
  ports.push(a.port, b.port);
  const emu = await startJambonzEmulator({ appUrl: `${publicUrl}/jambonz`, mode, webhookSecret: WEBHOOK_SECRET });
  return {
    a,
    b,
    balancer,
    emu,
    async close() {
      await emu.close();
      await a.stop();
      await b.stop();
      await balancer.close();
    },
  };
}

/** When the caller first heard bot audio (not silence) after `since` (performance.now()), or null. */
export function firstAudibleAfter(call: EmulatedCall, since: number): number | null {
  for (const chunk of call.heardChunks()) {
    if (chunk.at < since) continue;
    if (chunk.pcm.some((s) => Math.abs(s) > 500)) return chunk.at;
  }
  return null;
}

/** How often the instance's bot has started listening (after each prompt it said). */
export const listening = (deps: TestDeps): number =>
  deps.published.filter((e: CallEvent) => e.type === 'state' && e.to === 'listening').length;
/** What the instance's bot said, in order. */
export const spoken = (deps: TestDeps): string[] => (deps.tts as ToneTts).spoken;

/** The caller says something (a 600 ms tone, then 800 ms of silence ending the turn), at twice real time. */
export async function say(call: EmulatedCall): Promise<void> {
  const rate = call.audioRate;
  const pcm = new Int16Array((rate * 600) / 1000);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate));
  await call.sendAudio(pcm, rate, { speed: 2 });
  await call.sendSilence(800, { speed: 2 });
}

/** The sum of an instance's counter over the series matching `labels`. */
export async function counter(bot: BotInstance, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await bot.metrics.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((n, v) => n + v.value, 0);
}
