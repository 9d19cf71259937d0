import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach } from 'vitest';
import { createMetrics } from '../../src/core/metrics.js';
import { CallEventBus } from '../../src/core/call-events.js';
import { validate } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { CallSession, SessionStore } from '../../src/session/store.js';
import type { CallLeg } from '../../src/telephony/port.js';
import {
  createAsteriskBackend,
  type AsteriskBackend,
  type AsteriskBackendDeps,
} from '../../src/telephony/asterisk/backend.js';
import type { AriEmulator } from '../emulators/ari/index.js';

export { waitFor } from '../helpers/wait.js';

export class MemorySessions implements SessionStore {
  readonly map = new Map<string, CallSession>();
  async get(id: string) {
    return this.map.get(id);
  }
  async put(s: CallSession) {
    this.map.set(s.callId, structuredClone(s));
  }
  async compareAndSet(s: CallSession, expectedRev: number) {
    if ((this.map.get(s.callId)?.rev ?? 0) !== expectedRev) return null;
    this.map.set(s.callId, structuredClone({ ...s, rev: expectedRev + 1 }));
    return expectedRev + 1;
  }
  async delete(id: string) {
    this.map.delete(id);
  }
  async list() {
    return [...this.map.values()];
  }
  async close() {}
}

/** The `telephony.asterisk` settings that point the backend at `emu`, with RTP ports [rtpPortMin, rtpPortMax]. */
export function emulatorConnection(emu: AriEmulator, rtpPortMin: number, rtpPortMax: number) {
  return {
    url: emu.url,
    username: emu.username,
    password: emu.password,
    rtpHost: '127.0.0.1',
    rtpBindHost: '127.0.0.1',
    rtpPortMin,
    rtpPortMax,
  };
}

/** Reconnect and Stasis timings short enough for tests. */
export const FAST_ARI_TIMINGS = { reconnectMinMs: 20, reconnectMaxMs: 200, stasisTimeoutMs: 2000 } as const;

let nextPortBase = 30000 + (process.pid % 200) * 100;

export function asteriskTestConfig(
  emu: AriEmulator,
  asterisk: Record<string, unknown> = {},
  rest: Record<string, unknown> = {},
): Config {
  const base = nextPortBase;
  nextPortBase += 40;
  return validate({
    log: { level: 'silent' },
    telephony: {
      backend: 'asterisk',
      asterisk: { ...emulatorConnection(emu, base, base + 39), ...FAST_ARI_TIMINGS, ...asterisk },
    },
    ...rest,
  });
}

export interface TestBackend {
  backend: AsteriskBackend;
  sessions: MemorySessions;
  events: CallEventBus;
  metrics: ReturnType<typeof createMetrics>;
  config: Config;
  tmp: string;
}

export async function startTestBackend(
  emu: AriEmulator,
  onCall: (leg: CallLeg) => Promise<void>,
  opts: {
    asterisk?: Record<string, unknown>;
    rest?: Record<string, unknown>;
    deps?: Partial<AsteriskBackendDeps>;
    /** reuse another backend's config and session store (a second instance) */
    like?: TestBackend;
  } = {},
): Promise<TestBackend> {
  const tmp = mkdtempSync(join(tmpdir(), 'vb-ast-'));
  const recording = { dir: join(tmp, 'rec'), ...(opts.asterisk?.recording as Record<string, unknown> | undefined) };
  const config = opts.like?.config ?? asteriskTestConfig(emu, { ...opts.asterisk, recording }, opts.rest);
  const sessions = opts.like?.sessions ?? new MemorySessions();
  const events = new CallEventBus();
  const metrics = createMetrics(false);
  const backend = createAsteriskBackend(config, {
    logger: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    metrics,
    sessions,
    events,
    ...opts.deps,
  });
  await backend.start(onCall);
  return { backend, sessions, events, metrics, config, tmp };
}

/** What one test started; `useAsteriskRig` stops it after each test. */
export class AsteriskRig {
  emu!: AriEmulator;
  t: TestBackend | null = null;
}

/** Call inside a describe: after each test, stop the backend the test started (if any), then close its emulator. */
export function useAsteriskRig(): AsteriskRig {
  const rig = new AsteriskRig();
  afterEach(async () => {
    await rig.t?.backend.stop();
    rig.t = null;
    await rig.emu.close();
  });
  return rig;
}

/** A tone (audible, for "did it arrive" checks). */
export function tone(ms: number, freq = 440, rate = 8000, amp = 8000): Int16Array {
  const n = Math.round((ms * rate) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * freq * i) / rate));
  return out;
}

/** Everything the emulator and backend hold for calls is gone. */
export function assertReleased(t: TestBackend, emu: AriEmulator): string[] {
  const problems: string[] = [];
  if (t.backend.calls.size) problems.push(`backend holds ${t.backend.calls.size} calls`);
  if (t.backend.ports.inUse) problems.push(`${t.backend.ports.inUse} RTP ports leased`);
  if (t.backend.host.router.size) problems.push(`${t.backend.host.router.size} channel routes`);
  if (emu.channels.size) problems.push(`emulator has ${emu.channels.size} channels`);
  if (emu.bridges.size) problems.push(`emulator has ${emu.bridges.size} bridges`);
  if (t.sessions.map.size) problems.push(`${t.sessions.map.size} sessions`);
  return problems;
}
