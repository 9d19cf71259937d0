import { createServer, type Server } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { rtpPortsFree, runChecks } from '../../src/cli/doctor.js';
import { startRedis } from '../helpers/redis.js';

let ari: Server;
let ariUrl: string;

beforeAll(async () => {
  // A peer that answers GET /ari/asterisk/info like Asterisk: 200 with the right basic auth, 401 otherwise.
  ari = createServer((req, res) => {
    const ok = req.headers.authorization === `Basic ${Buffer.from('voicebot:right').toString('base64')}`;
    res.writeHead(req.url === '/ari/asterisk/info' && ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? { system: { version: '22.10.0' } } : { message: 'Authentication required' }));
  });
  ari.listen(0, '127.0.0.1');
  await once(ari, 'listening');
  ariUrl = `http://127.0.0.1:${(ari.address() as AddressInfo).port}`;
});
afterAll(() => ari.close());

function asteriskConfig(password: string, rtpPortMin: number, rtpPortMax: number) {
  return loadConfig({
    env: {},
    overrides: {
      telephony: {
        backend: 'asterisk',
        asterisk: { url: ariUrl, username: 'voicebot', password, rtpPortMin, rtpPortMax },
      },
      speech: { asr: { whisperCpp: { modelPath: 'test/fixtures/models/for-tests-ggml-tiny.en.bin' } } },
    },
  });
}

describe('doctor checks', () => {
  it('reports ARI reachable with the right credentials and a 401 hint with wrong ones', async () => {
    const good = await runChecks(asteriskConfig('right', 41000, 41003));
    expect(good.find((c) => c.name === 'asterisk ari')).toMatchObject({ ok: true });
    const bad = await runChecks(asteriskConfig('wrong', 41000, 41003));
    const check = bad.find((c) => c.name === 'asterisk ari');
    expect(check).toMatchObject({ ok: false });
    expect(check?.fix).toContain('username/password');
  });

  it('finds a taken port in the RTP range', async () => {
    const holder: Socket = createSocket('udp4');
    holder.bind(0, '0.0.0.0');
    await once(holder, 'listening');
    const taken = holder.address().port;
    try {
      const r = await rtpPortsFree(taken - 1, taken + 1);
      expect(r.ok).toBe(false);
      expect(r.detail).toContain(String(taken));
      // Asterisk's own rtp.conf range must stay apart from the bot's: never advise making them match
      expect(r.fix).toMatch(/rtp\.conf/);
      expect(r.fix).toMatch(/must not overlap/);
      expect(r.fix).not.toMatch(/\bmatch/);
    } finally {
      holder.close();
    }
  });

  it('reports a real redis-server as reachable', async () => {
    const redis = await startRedis();
    try {
      const config = loadConfig({ env: {}, overrides: { redis: { url: redis.url } } });
      const check = (await runChecks(config)).find((c) => c.name === 'redis');
      expect(check).toMatchObject({ ok: true });
      expect(check?.detail).toContain('PONG');
    } finally {
      await redis.stop();
    }
  });

  it('rejects a VAD model that is not ONNX, saying which key to set', async () => {
    const config = loadConfig({
      env: {},
      overrides: { speech: { vad: { modelPath: 'test/fixtures/audio/TRANSCRIPTS.tsv' } } },
    });
    const check = (await runChecks(config)).find((c) => c.name === 'vad model');
    expect(check).toMatchObject({ ok: false });
    expect(check?.detail).toContain('not an ONNX model');
    expect(check?.fix).toContain('speech.vad.modelPath');
  });

  it('reports an unreachable Redis with what to do', async () => {
    const config = loadConfig({ env: {}, overrides: { redis: { url: 'redis://127.0.0.1:1' } } });
    const check = (await runChecks(config)).find((c) => c.name === 'redis');
    expect(check).toMatchObject({ ok: false });
    expect(check?.fix).toContain('redis');
  });
});
