/**
 * A real redis-server for tests: free port, temp dir, no persistence unless asked. Reusable by every concern:
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

export interface RedisOptions {
  binary?: string;
  readyTimeoutMs?: number;
  /** AOF persistence (default off): 'always' fsyncs every write, 'everysec' once a second */
  appendfsync?: 'always' | 'everysec';
}

/** A redis-server that can also be killed (-9) and started again on the same port and data dir. */
export interface RestartableRedis extends RedisServer {
  /** SIGKILL; the data dir stays */
  kill(): Promise<void>;
  /** start again on the same port and data dir (AOF, if on, is replayed) */
  restart(): Promise<void>;
}

async function spawnRedis(port: number, dir: string, opts: RedisOptions): Promise<ChildProcess> {
  const persistence = opts.appendfsync
    ? ['--appendonly', 'yes', '--appendfsync', opts.appendfsync]
    : ['--appendonly', 'no'];
  const child = spawn(
    opts.binary ?? 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit');
  const ready = AbortSignal.timeout(opts.readyTimeoutMs ?? 5000);
  // wait for PING to answer (bounded); stop early if the server exits
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${output.slice(-500)}`);
    if (ready.aborted) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`redis-server did not answer PING on port ${port}: ${output.slice(-500)}`);
    }
    if (await ping(port, AbortSignal.any([ready, AbortSignal.timeout(250)]))) return child;
    await new Promise((r) => setImmediate(r));
  }
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

async function end(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (!alive(child)) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

export async function startRedis(opts: RedisOptions = {}): Promise<RestartableRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'voicebot-redis-'));
  const port = await freePort();
  let child: ChildProcess;
  try {
    child = await spawnRedis(port, dir, opts);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get process() {
      return child;
    },
    async kill() {
      await end(child, 'SIGKILL');
    },
    async restart() {
      await end(child, 'SIGTERM');
      child = await spawnRedis(port, dir, opts);
    },
    async stop() {
      await end(child, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
