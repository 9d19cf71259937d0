import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Starts short-lived helper processes (espeak-ng, one per sentence) from a small long-lived Node process.
 * libuv forks on Linux, and a fork copies the parent's page tables: with whisper's buffers and the ONNX sessions
 * resident, each spawn blocked this process's event loop for 15-60 ms (every call's audio pacer with it). The
 * broker's own footprint is small, so its forks cost ~1 ms and none of them run on our event loop.
 */

export interface BrokeredExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the process could not be started (e.g. ENOENT) or the broker died */
  error?: Error;
}

export interface BrokeredProcess {
  /** stdout chunks as they arrive; ends when the process has exited and its pipes are drained */
  readonly stdout: AsyncIterable<Buffer>;
  readonly exited: Promise<BrokeredExit>;
  /** the first 2000 characters of stderr */
  stderr(): string;
  /** SIGKILL if still running */
  kill(): void;
}

// CommonJS run with `node -e`: no file to resolve, works the same under tsx and from dist/.
const BROKER_SOURCE = `
const { spawn } = require('node:child_process');
const kids = new Map();
const send = (m) => { if (process.connected) process.send(m); };
process.on('message', (m) => {
  if (m.op === 'kill') {
    const c = kids.get(m.id);
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    return;
  }
  let done = false;
  const finish = (code, signal, error) => {
    if (done) return;
    done = true;
    kids.delete(m.id);
    send({ id: m.id, type: 'close', code, signal, error });
  };
  let child;
  try {
    child = spawn(m.cmd, m.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    finish(null, null, String(e && e.message));
    return;
  }
  kids.set(m.id, child);
  child.once('error', (e) => finish(null, null, e.message));
  child.stdout.on('data', (d) => send({ id: m.id, type: 'out', data: d }));
  child.stderr.on('data', (d) => send({ id: m.id, type: 'err', data: d }));
  child.stdin.on('error', () => undefined);
  child.stdin.end(m.input);
  child.once('close', (code, signal) => finish(code, signal));
});
process.on('disconnect', () => {
  for (const c of kids.values()) c.kill('SIGKILL');
  process.exit(0);
});
`;

type BrokerMessage =
  | { id: number; type: 'out' | 'err'; data: Uint8Array }
  | { id: number; type: 'close'; code: number | null; signal: NodeJS.Signals | null; error?: string };

class Pending implements BrokeredProcess {
  readonly #chunks: Buffer[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #err = '';
  #resolveExit!: (exit: BrokeredExit) => void;
  readonly exited = new Promise<BrokeredExit>((resolve) => (this.#resolveExit = resolve));
  running = true;

  readonly #killer: () => void;

  constructor(killer: () => void) {
    this.#killer = killer;
  }

  readonly stdout: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Buffer>> => {
        while (this.#chunks.length === 0 && !this.#ended) await new Promise<void>((r) => (this.#wake = r));
        const chunk = this.#chunks.shift();
        return chunk ? { value: chunk, done: false } : { value: undefined, done: true };
      },
      return: (): Promise<IteratorResult<Buffer>> => {
        this.kill();
        return Promise.resolve({ value: undefined, done: true });
      },
    }),
  };

  stderr(): string {
    return this.#err;
  }

  kill(): void {
    if (this.running) this.#killer();
  }

  onOut(data: Uint8Array): void {
    this.#chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.#poke();
  }

  onErr(data: Uint8Array): void {
    if (this.#err.length < 2000) this.#err += Buffer.from(data).toString();
  }

  onClose(exit: BrokeredExit): void {
    this.running = false;
    this.#ended = true;
    this.#poke();
    this.#resolveExit(exit);
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

export class SpawnBroker {
  #broker: ChildProcess | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  /** the broker's process id while it runs (for checks and diagnostics) */
  get pid(): number | undefined {
    return this.#broker?.connected ? this.#broker.pid : undefined;
  }

  /** Starts the broker now (at start-up, while this process is still small), not on the first sentence. */
  start(): void {
    this.#ensure();
  }

  run(cmd: string, args: string[], input: string): BrokeredProcess {
    const broker = this.#ensure();
    const id = this.#nextId++;
    const proc = new Pending(() => this.#send({ op: 'kill', id }));
    this.#pending.set(id, proc);
    if (this.#pending.size === 1) broker.channel?.ref();
    this.#send({ op: 'spawn', id, cmd, args, input });
    return proc;
  }

  close(): void {
    const broker = this.#broker;
    this.#broker = undefined;
    if (broker?.connected) broker.disconnect(); // the broker SIGKILLs its children and exits
  }

  #send(message: object): void {
    if (this.#broker?.connected) this.#broker.send(message);
  }

  #ensure(): ChildProcess {
    if (this.#broker?.connected) return this.#broker;
    const broker = spawn(process.execPath, ['-e', BROKER_SOURCE], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced', // Buffers cross as bytes, not JSON arrays
    });
    broker.on('message', (m: BrokerMessage) => this.#onMessage(m));
    const lost = (why: string) => {
      if (this.#broker === broker) this.#broker = undefined;
      for (const [id, proc] of this.#pending) {
        this.#pending.delete(id);
        proc.onClose({ code: null, signal: null, error: new Error(`spawn broker ${why}`) });
      }
    };
    broker.once('error', (e) => lost(`failed: ${e.message}`));
    broker.once('exit', (code, signal) => lost(`exited (${code ?? signal})`));
    broker.unref();
    broker.channel?.unref(); // an idle broker never keeps the process alive
    this.#broker = broker;
    return broker;
  }

  #onMessage(m: BrokerMessage): void {
    const proc = this.#pending.get(m.id);
    if (!proc) return;
    if (m.type === 'out') proc.onOut(m.data);
    else if (m.type === 'err') proc.onErr(m.data);
    else if (m.type === 'close') {
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) this.#broker?.channel?.unref();
      proc.onClose({ code: m.code, signal: m.signal, ...(m.error === undefined ? {} : { error: new Error(m.error) }) });
    }
  }
}
