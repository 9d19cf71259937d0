import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { MediaLink } from '../../src/telephony/asterisk/media-link.js';
import { RtpPortPool } from '../../src/telephony/asterisk/port-pool.js';
import { createMetrics } from '../../src/core/metrics.js';

describe('RtpPortPool', () => {
  it('leases ports of the range, skips ports another process holds, refuses when exhausted, reuses released ones', async () => {
    // find two adjacent free ports and occupy the first from "another process"
    const probe = createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const base = probe.address().port;
    probe.close();
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(base, '127.0.0.1', resolve));
    const pool = new RtpPortPool(base, base + 1);
    const metrics = createMetrics(false);
    const a = await pool.lease((p) => MediaLink.open('127.0.0.1', p, metrics));
    expect(a.port).toBe(base + 1); // base was taken by the squatter
    expect(pool.inUse).toBe(1);
    await expect(pool.lease((p) => MediaLink.open('127.0.0.1', p, metrics))).rejects.toThrow(/no free RTP port/);
    expect(pool.inUse).toBe(1);
    await a.value.close();
    pool.release(a.port);
    expect(pool.inUse).toBe(0);
    const b = await pool.lease((p) => MediaLink.open('127.0.0.1', p, metrics));
    expect(b.port).toBe(base + 1);
    await b.value.close();
    squatter.close();
  });

  it('rejects an empty range', () => {
    expect(() => new RtpPortPool(20010, 20000)).toThrow(/empty/);
  });
});
