/**
 * A real redis-server for tests: free port, temp dir, no persistence. Reusable by every concern:
 *
 *   const redis = await startRedis();   // in beforeAll
 *   ... new Redis(redis.url) ...
 *   await redis.stop();                 // in afterAll
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Ask the OS for a free port (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** One PING over a raw socket: resolves true on +PONG. */
async function ping(port: number, signal: AbortSignal): Promise<boolean> {
  const socket = new Socket();
  try {
    socket.connect(port, '127.0.0.1');
    await once(socket, 'connect', { signal });
    socket.write('PING\r\n');
    const [data] = (await once(socket, 'data', { signal })) as [Buffer];
    return data.toString().startsWith('+PONG');
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

export async function startRedis(opts: { binary?: string; readyTimeoutMs?: number } = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'voicebot-redis-'));
  const port = await freePort();
  const child = spawn(
    opts.binary ?? 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit');
  const ready = AbortSignal.timeout(opts.readyTimeoutMs ?? 5000);
  // wait for PING to answer (bounded); stop early if the server exits
  for (;;) {
    if (child.exitCode !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server exited with ${child.exitCode}: ${output.slice(-500)}`);
    }
    if (ready.aborted) {
      child.kill('SIGKILL');
      await exited;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not answer PING on port ${port}: ${output.slice(-500)}`);
    }
    if (await ping(port, AbortSignal.any([ready, AbortSignal.timeout(250)]))) break;
    await new Promise((r) => setImmediate(r));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
