import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { MemoryLeg } from '../../src/dialog/testing/memory-leg.js';
import { CallSupervisor } from '../../src/telephony/supervisor.js';

const lines: string[] = [];
const logger = createLogger(
  { level: 'debug', format: 'json', redactPhoneNumbers: false },
  { write: (l) => void lines.push(l) },
);

describe('CallSupervisor', () => {
  it('refuses calls before start, beyond maxCalls and once stopping; takes them otherwise', async () => {
    const supervisor = new CallSupervisor({ logger, maxCalls: 1 });
    expect(supervisor.refusal()).toBe('not-started');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    supervisor.start(() => held);
    expect(supervisor.refusal()).toBeNull();
    const running = supervisor.run({ leg: new MemoryLeg(), log: logger });
    expect(supervisor.refusal()).toBe('busy');
    release();
    await running;
    expect(supervisor.refusal()).toBeNull();
    await supervisor.stop();
    expect(supervisor.refusal()).toBe('stopping');
  });

  it('always hangs up: after the bot returns, after it throws, and without running the bot when setup fails', async () => {
    const supervisor = new CallSupervisor({ logger });
    const served: string[] = [];
    supervisor.start(async (leg) => {
      served.push(leg.id);
      if (leg.id === 'throws') throw new Error('handler bug');
    });
    const ok = new MemoryLeg({ id: 'ok' });
    const throws = new MemoryLeg({ id: 'throws' });
    const badSetup = new MemoryLeg({ id: 'bad-setup' });
    await Promise.all([
      supervisor.run({ leg: ok, log: logger, hangupReason: 'bot-finished' }),
      supervisor.run({ leg: throws, log: logger }),
      supervisor.run({ leg: badSetup, log: logger, setup: () => Promise.reject(new Error('no media')) }),
    ]);
    expect(served.sort()).toEqual(['ok', 'throws']);
    expect([ok.endReason, throws.endReason, badSetup.endReason]).toEqual([
      'bot-finished',
      'bot finished',
      'setup failed',
    ]);
    expect([ok.hungUpBy, throws.hungUpBy, badSetup.hungUpBy]).toEqual(['bot', 'bot', 'bot']);
    expect(supervisor.active).toBe(0);
  });

  it('stop() waits for running calls, but no longer than stopTimeoutMs for a stuck one', async () => {
    const supervisor = new CallSupervisor({ logger, stopTimeoutMs: 50 });
    supervisor.start(() => new Promise<void>(() => undefined)); // a handler that never returns
    void supervisor.run({ leg: new MemoryLeg(), log: logger });
    const started = performance.now();
    await supervisor.stop();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(supervisor.active).toBe(1);
    expect(lines.some((l) => l.includes('calls still running at shutdown'))).toBe(true);
  });
});
