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

export interface RoundRobinOptions {
  /**
   * Whether target `index` may get new connections (a balancer's health check: a dead or not-ready instance is left
   * out). Default: every target. When none is healthy, round robin goes on over all of them.
   */
  healthy?: (index: number) => boolean;
}

/**
 * `targets` may be changed in place (a restarted instance on a new port). A target that refuses the TCP connection
 * is skipped for the next one (HAProxy's `option redispatch`): the client never notices a dead instance.
 */
export async function startRoundRobinProxy(targets: number[], opts: RoundRobinOptions = {}): Promise<RoundRobinProxy> {
  const perTarget = targets.map(() => 0);
  const open = new Set<Socket>();
  const pairs: Array<{ index: number; client: Socket; upstream: Socket; half: boolean }> = [];
  let next = 0;
  const pick = (): number => {
    for (let i = 0; i < targets.length; i++) {
      const index = next++ % targets.length;
      if (opts.healthy?.(index) ?? true) return index;
    }
    return next++ % targets.length;
  };
  const track = (s: Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  };
  const server = createServer((client) => {
    track(client);
    client.pause();
    client.on('error', () => client.destroy());
    const attempt = (index: number, left: number) => {
      const upstream = connect(targets[index]!, '127.0.0.1');
      track(upstream);
      let connected = false;
      upstream.on('error', () => {
        if (!connected && left > 1) attempt(pick(), left - 1);
        else client.destroy();
      });
      upstream.once('connect', () => {
        connected = true;
        perTarget[index]!++;
        const pair = { index, client, upstream, half: false };
        pairs.push(pair);
        upstream.on('close', () => client.destroy());
        client.on('close', () => pair.half || upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
    };
    attempt(pick(), targets.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    perTarget,
    halfOpen: (index) => {
      for (const p of pairs) {
        if (p.index !== index) continue;
        p.half = true;
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
  outboundWebsocket(cfg: { uri: string; username: string; password: string } & PerCallTimings): Promise<void>;
}

/** websocket_client.conf timings of a per-call connection (ms; the emulator's defaults where left out). */
export interface PerCallTimings {
  connectionType: 'per_call_config';
  connectionTimeoutMs?: number;
  reconnectIntervalMs?: number;
  reconnectAttempts?: number;
  /** STASIS_END_POST_WAIT: the socket closes this long after StasisEnd (3000 in Asterisk) */
  perCallCloseMs?: number;
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
export function perCallThrough(
  emu: OutboundAsterisk,
  proxy: RoundRobinProxy,
  timings: Omit<PerCallTimings, 'connectionType'> = {},
): Promise<void> {
  return emu.outboundWebsocket({
    uri: `ws://127.0.0.1:${proxy.port}/ari`,
    username: emu.username,
    password: emu.password,
    connectionType: 'per_call_config',
    perCallCloseMs: 3000, // STASIS_END_POST_WAIT, as Asterisk
    ...timings,
  });
}
