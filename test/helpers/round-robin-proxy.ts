/**
 * A small round-robin TCP proxy on loopback, the load balancer in front of several bot instances: each accepted
 * connection (here: one per-call ARI websocket from Asterisk) goes to the next target, bytes piped both ways.
 */
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RoundRobinProxy {
  port: number;
  /** connections handed to each target so far, by target index */
  perTarget: number[];
  /**
   * The connections to target `index` go half-open (a NAT or firewall forgets them): the side towards the client
   * (Asterisk) closes, so it reconnects, through the proxy, to the next target; the target's side stays open but
   * nothing reaches it any more, not even a FIN: it can only notice by its own pings.
   */
  halfOpen(index: number): void;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(targets: number[]): Promise<RoundRobinProxy> {
  const perTarget = targets.map(() => 0);
  const open = new Set<Socket>();
  const pairs: Array<{ index: number; client: Socket; upstream: Socket }> = [];
  let next = 0;
  const server = createServer((client) => {
    const index = next++ % targets.length;
    perTarget[index]!++;
    const upstream = connect(targets[index]!, '127.0.0.1');
    pairs.push({ index, client, upstream });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    perTarget,
    halfOpen: (index) => {
      for (const p of pairs) {
        if (p.index !== index) continue;
        p.client.unpipe(p.upstream);
        p.upstream.unpipe(p.client);
        p.upstream.pause(); // what the target sends is never read, never answered
        p.client.destroy();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The emulator Asterisk needs these for outbound websockets (ari config credentials); structural to stay import-free. */
interface OutboundAsterisk {
  username: string;
  password: string;
  outboundWebsocket(cfg: {
    uri: string;
    username: string;
    password: string;
    connectionType: 'per_call_config';
    perCallCloseMs: number;
  }): Promise<void>;
}

/**
 * Config overrides for one bot instance of a scaled-out set on loopback: outbound ARI websockets from `emu`, Redis
 * sessions and BullMQ outbox, whisper's stub model, a shared file sink (`tickets`) and its own outbox dir.
 */
export function scaledInstanceConfig(p: {
  emu: OutboundAsterisk;
  redisUrl: string;
  rtpPortMin: number;
  rtpPorts: number;
  tickets: string;
  outboxDir: string;
}): Record<string, unknown> {
  return {
    web: { host: '127.0.0.1', port: 0 },
    redis: { url: p.redisUrl },
    session: { store: 'redis' },
    telephony: {
      backend: 'asterisk',
      asterisk: {
        connection: 'outbound',
        username: p.emu.username,
        password: p.emu.password,
        rtpHost: '127.0.0.1',
        rtpBindHost: '127.0.0.1',
        rtpPortMin: p.rtpPortMin,
        rtpPortMax: p.rtpPortMin + p.rtpPorts,
      },
    },
    speech: { asr: { whisperCpp: { modelPath: 'test/fixtures/models/for-tests-ggml-tiny.en.bin' } } },
    crm: { sinks: [{ type: 'file', path: p.tickets }], outbox: { dir: p.outboxDir } },
  };
}

/** Asterisk (the emulator) opens one websocket per call to the proxy, as websocket_client.conf per_call_config. */
export function perCallThrough(emu: OutboundAsterisk, proxy: RoundRobinProxy): Promise<void> {
  return emu.outboundWebsocket({
    uri: `ws://127.0.0.1:${proxy.port}/ari`,
    username: emu.username,
    password: emu.password,
    connectionType: 'per_call_config',
    perCallCloseMs: 3000, // STASIS_END_POST_WAIT, as Asterisk
  });
}
