import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { createSessionStore, MemorySessionStore, RedisSessionStore } from '../../src/session/index.js';
import type { CallSession, SessionStore } from '../../src/session/store.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const session = (callId: string, extra: Partial<CallSession> = {}): CallSession => ({
  version: 1,
  callId,
  backend: 'asterisk',
  state: 'listening',
  phone: '+15550100',
  startedAt: '2026-11-27T10:00:00.000Z',
  backendData: { bridgeId: 'br-1', rtpPort: 40000 },
  dialog: { intent: 'billing', lowConfidenceStreak: 1 },
  updatedAt: '2026-11-27T10:00:05.000Z',
  ...extra,
});

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'info', format: 'json', redactPhoneNumbers: false }, sink) };
}

/** Poll an async condition every 50 ms, up to `timeoutMs` (waits on the key expiring, bounded). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The compare-and-set contract, the same for every store. */
async function casContract(store: SessionStore, id: string): Promise<void> {
  expect(await store.compareAndSet(session(id, { owner: 'a' }), 1)).toBeNull(); // nothing stored: only 0 matches
  expect(await store.compareAndSet(session(id, { owner: 'a' }), 0)).toBe(1);
  expect(await store.get(id)).toMatchObject({ rev: 1, owner: 'a' });
  expect(await store.compareAndSet(session(id, { owner: 'a', state: 'speaking' }), 1)).toBe(2);
  // a writer that read revision 1 lost the race: refused, the stored entry unchanged
  expect(await store.compareAndSet(session(id, { owner: 'b' }), 1)).toBeNull();
  expect(await store.get(id)).toMatchObject({ rev: 2, owner: 'a', state: 'speaking' });
  // many writers with the same revision at once: exactly one wins
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) => store.compareAndSet(session(id, { owner: `w${i}` }), 2)),
  );
  expect(results.filter((r) => r === 3)).toHaveLength(1);
  expect(results.filter((r) => r === null)).toHaveLength(7);
  const winner = results.indexOf(3);
  expect((await store.get(id))!.owner).toBe(`w${winner}`);
}

describe('MemorySessionStore', () => {
  it('round-trips copies and expires entries', async () => {
    let now = 1_000_000;
    const store = new MemorySessionStore(10, () => now);
    const s = session('m1');
    await store.put(s);
    const got = await store.get('m1');
    expect(got).toEqual(s);
    got!.dialog.intent = 'changed';
    expect((await store.get('m1'))!.dialog.intent).toBe('billing');
    expect((await store.list()).map((x) => x.callId)).toEqual(['m1']);
    now += 10_001;
    expect(await store.get('m1')).toBeUndefined();
    expect(await store.list()).toEqual([]);
  });

  it('compare-and-set: writes only over the revision the writer read; of concurrent writers one wins', async () => {
    await casContract(new MemorySessionStore(), 'cas-m');
  });
});

describe('RedisSessionStore against a real redis-server', () => {
  let redis: RedisServer;
  let raw: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    await raw?.quit();
    await redis?.stop();
  });

  it('createSessionStore picks redis from config and round-trips a session as versioned JSON', async () => {
    const config = loadConfig({ env: {}, overrides: { session: { store: 'redis' }, redis: { url: redis.url } } });
    const { logger } = capturingLogger();
    const store = createSessionStore(config, logger);
    expect(store).toBeInstanceOf(RedisSessionStore);
    try {
      await store.put(session('r1'));
      await store.put(session('r2', { state: 'speaking' }));
      expect(await store.get('r1')).toEqual(session('r1'));
      const stored = JSON.parse((await raw.get('voicebot:session:r1'))!) as { version: number };
      expect(stored.version).toBe(1);
      const ttl = await raw.ttl('voicebot:session:r1');
      expect(ttl).toBeGreaterThan(3500);
      expect(ttl).toBeLessThanOrEqual(3600);
      expect((await store.list()).map((s) => s.callId).sort()).toEqual(['r1', 'r2']);
      await store.delete('r1');
      expect(await store.get('r1')).toBeUndefined();
      expect(await store.get('nope')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('compare-and-set is atomic on the server (Lua), keeps the TTL, and ignores an unreadable entry as revision 0', async () => {
    const { logger } = capturingLogger();
    const store = new RedisSessionStore({ url: redis.url, keyPrefix: 'cas:', ttlSeconds: 60, logger });
    const other = new RedisSessionStore({ url: redis.url, keyPrefix: 'cas:', ttlSeconds: 60, logger });
    try {
      await casContract(store, 'cas-r');
      // two clients (two bot processes) race for the same revision: one wins
      const [x, y] = await Promise.all([
        store.compareAndSet(session('cas-r', { owner: 'x' }), 3),
        other.compareAndSet(session('cas-r', { owner: 'y' }), 3),
      ]);
      expect([x, y].sort()).toEqual([4, null]);
      expect(await raw.ttl('cas:session:cas-r')).toBeGreaterThan(50);
      await raw.set('cas:session:junk', '{not json');
      expect(await store.compareAndSet(session('junk'), 0)).toBe(1);
    } finally {
      await store.close();
      await other.close();
    }
  });

  it('entries expire after the TTL', async () => {
    const { logger } = capturingLogger();
    const store = new RedisSessionStore({ url: redis.url, keyPrefix: 'ttl:', ttlSeconds: 1, logger });
    try {
      await store.put(session('short'));
      expect(await raw.exists('ttl:session:short')).toBe(1);
      await eventually(async () => (await raw.exists('ttl:session:short')) === 0);
      expect(await store.get('short')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('treats a wrong or missing version as missing, and logs it', async () => {
    const { logger, lines } = capturingLogger();
    const store = new RedisSessionStore({ url: redis.url, keyPrefix: 'ver:', ttlSeconds: 60, logger });
    try {
      await raw.set('ver:session:old', JSON.stringify({ ...session('old'), version: 0 }));
      await raw.set('ver:session:noversion', JSON.stringify({ callId: 'noversion', state: 'listening' }));
      await raw.set('ver:session:junk', '{not json');
      await store.put(session('good'));
      expect(await store.get('old')).toBeUndefined();
      expect(await store.get('noversion')).toBeUndefined();
      expect(await store.get('junk')).toBeUndefined();
      expect((await store.list()).map((s) => s.callId)).toEqual(['good']);
      const warnings = lines.filter((l) => l.msg === 'ignoring unreadable session entry');
      expect(warnings.map((w) => w.reason)).toEqual(
        expect.arrayContaining(['version 0 (want 1)', 'version undefined (want 1)', 'not JSON']),
      );
    } finally {
      await store.close();
    }
  });
});

describe('createSessionStore', () => {
  it('defaults to memory', () => {
    const { logger } = capturingLogger();
    expect(createSessionStore(loadConfig({ env: {} }), logger)).toBeInstanceOf(MemorySessionStore);
  });
});
