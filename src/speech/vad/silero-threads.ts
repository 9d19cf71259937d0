import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { VoicebotError } from '../../core/errors.js';
import type { VadEvent } from '../types.js';
import { Endpointer, WINDOW, pushRejection, type EndpointerHooks, type WindowClassifier } from './endpointer.js';
import { VadCapacityError } from './errors.js';
import { WindowAccumulator } from './windows.js';
import type { VadSessions } from './silero.js';

const require = createRequire(import.meta.url);

/**
 * The worker: sherpa-onnx Silero sessions, one per call, classifying 512-sample windows in the order they come.
 * Inference is ~0.3 ms per 32 ms window per call, and building a session 50-250 ms; on the event loop both
 * stalled every call's audio pacer (the 10-call profile's largest JavaScript items), here they run beside it.
 * CommonJS run with `eval`, like the espeak worker: no file to resolve, the same under tsx, vitest and dist/.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const sherpa = require(workerData.sherpaPath);
const sessions = new Map();
const win = new Float32Array(workerData.window);
parentPort.on('message', (m) => {
  if (m.op === 'open') {
    if (!sessions.has(m.sid)) sessions.set(m.sid, new sherpa.Vad(workerData.config, workerData.bufferSeconds));
    return;
  }
  if (m.op === 'exit') { sessions.clear(); parentPort.close(); return; }
  const vad = sessions.get(m.sid);
  if (!vad) return;
  if (m.op === 'reset') { vad.reset(); return; }
  const pcm = m.pcm;
  const n = pcm.length / win.length;
  const speech = new Uint8Array(n);
  for (let w = 0; w < n; w++) {
    for (let i = 0; i < win.length; i++) win[i] = pcm[w * win.length + i] / 32768;
    vad.acceptWaveform(win);
    while (!vad.isEmpty()) vad.pop();
    speech[w] = vad.isDetected() ? 1 : 0;
  }
  parentPort.postMessage({ sid: m.sid, lease: m.lease, speech }, [speech.buffer]);
});
`;

/** Every inference thread died (a native failure): no call can get a VAD. */
export class VadThreadError extends VoicebotError {
  constructor(detail: string) {
    super(`VAD inference threads failed: ${detail}`, {
      kind: 'setup',
      fix: 'check the log for the worker error; set speech.vad.inferenceThreads to 0 to run the VAD on the event loop',
    });
  }
}

type Decisions = (lease: number, speech: Uint8Array) => void;

/** One worker thread and the sessions (by id) that live in it. */
class VadThread {
  readonly worker: Worker;
  readonly idle: number[] = [];
  built = 0;
  inUse = 0;
  failed = false;
  /** close() asked it to end: its exit is no failure */
  closing = false;
  /** who reads the results of each session in use */
  readonly readers = new Map<number, Decisions>();

  constructor(workerData: object, onFailed: (err: Error) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    this.worker.on('message', (m: { sid: number; lease: number; speech: Uint8Array }) =>
      this.readers.get(m.sid)?.(m.lease, m.speech),
    );
    const fail = (err: Error) => {
      if (this.failed || this.closing) return;
      this.failed = true;
      onFailed(err);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`worker exited (code ${code})`)));
    // after the listeners: the process may end with the pool open (beforeExit then closes it)
    this.worker.unref();
  }
}

/**
 * Pools not closed yet. A process whose event loop runs dry with a VAD worker still holding ONNX sessions hangs
 * in Node's exit (the worker's teardown never returns), so such pools are closed when the loop empties.
 */
const open = new Set<SileroThreadPool>();
let exitHook = false;
function closeOnExit(pool: SileroThreadPool): void {
  open.add(pool);
  if (exitHook) return;
  exitHook = true;
  process.on('beforeExit', () => {
    for (const p of open) void p.close();
  });
}

/** A session held by one call: its worker thread and its id there. */
export interface RemoteSession {
  readonly thread: VadThread;
  readonly sid: number;
}

/**
 * Silero sessions in `threads` worker threads, at most `maxTotal` in all (the concurrent-call cap, as for the
 * in-thread pool: sessions are never freed, only reused, see SherpaVadPool). A call gets a session on the thread
 * with the fewest calls, so calls spread over the threads.
 */
export class SileroThreadPool implements VadSessions {
  readonly #threads: VadThread[];
  #nextSid = 1;
  readonly maxTotal: number;
  readonly #onBuilt: () => void;

  constructor(
    opts: { threads: number; maxTotal: number; config: object; bufferSeconds: number },
    onBuilt: () => void,
    onFailed: (err: Error) => void,
  ) {
    this.maxTotal = opts.maxTotal;
    this.#onBuilt = onBuilt;
    const workerData = {
      sherpaPath: require.resolve('sherpa-onnx-node'),
      config: opts.config,
      bufferSeconds: opts.bufferSeconds,
      window: WINDOW,
    };
    this.#threads = Array.from({ length: opts.threads }, () => new VadThread(workerData, onFailed));
    closeOnExit(this);
  }

  get threads(): number {
    return this.#threads.length;
  }
  get size(): number {
    return this.#threads.reduce((n, t) => n + t.built, 0);
  }
  get inUse(): number {
    return this.#threads.reduce((n, t) => n + t.inUse, 0);
  }
  get idleCount(): number {
    return this.#threads.reduce((n, t) => n + t.idle.length, 0);
  }

  /** Builds sessions ahead of time, spread over the threads (in the workers: the event loop does not wait). */
  prewarm(count: number): void {
    while (this.size < Math.min(count, this.maxTotal)) {
      const thread = this.#least((t) => t.built);
      if (!thread) return;
      thread.idle.push(this.#build(thread));
    }
  }

  acquire(reader: Decisions): RemoteSession {
    const thread = this.#least((t) => t.inUse);
    if (!thread) throw new VadThreadError('no inference thread is running');
    let sid = thread.idle.pop();
    if (sid === undefined) {
      // another thread's idle session beats building one here (a build is bounded by the cap in all threads)
      const other = this.#threads.find((t) => !t.failed && t.idle.length > 0);
      if (other) return this.#lease(other, other.idle.pop()!, reader);
      // the same error as the in-thread pool: admission control should have refused the call
      if (this.size >= this.maxTotal) throw new VadCapacityError(this.maxTotal);
      sid = this.#build(thread);
    }
    return this.#lease(thread, sid, reader);
  }

  release(session: RemoteSession): void {
    const { thread, sid } = session;
    thread.readers.delete(sid);
    // in order after the holder's last windows: the next call starts from a fresh LSTM state
    if (!thread.failed) thread.worker.postMessage({ op: 'reset', sid });
    thread.inUse--;
    thread.idle.push(sid);
  }

  classify(session: RemoteSession, lease: number, pcm: Int16Array): void {
    session.thread.worker.postMessage({ op: 'classify', sid: session.sid, lease, pcm }, [pcm.buffer as ArrayBuffer]);
  }

  reset(session: RemoteSession): void {
    session.thread.worker.postMessage({ op: 'reset', sid: session.sid });
  }

  /**
   * Lets each worker finish what it was sent and end by itself: terminating one while ONNX builds a session
   * aborts the whole process (a native exception with no JavaScript to catch it). Terminated only if it does not
   * end within `timeoutMs`.
   */
  async close(timeoutMs = 5000): Promise<void> {
    open.delete(this);
    await Promise.all(
      this.#threads.map(async (t) => {
        if (t.failed || t.closing) return;
        t.closing = true;
        const ended = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), timeoutMs);
          t.worker.once('exit', () => (clearTimeout(timer), resolve(true)));
        });
        t.worker.postMessage({ op: 'exit' });
        if (!(await ended)) await t.worker.terminate();
      }),
    );
  }

  #lease(thread: VadThread, sid: number, reader: Decisions): RemoteSession {
    thread.inUse++;
    thread.readers.set(sid, reader);
    return { thread, sid };
  }

  #build(thread: VadThread): number {
    const sid = this.#nextSid++;
    thread.worker.postMessage({ op: 'open', sid });
    thread.built++;
    this.#onBuilt();
    return sid;
  }

  #least(by: (t: VadThread) => number): VadThread | undefined {
    let best: VadThread | undefined;
    for (const t of this.#threads) if (!t.failed && (!best || by(t) < by(best))) best = t;
    return best;
  }
}

/** Hands the Endpointer the decision the worker already made for the window it is about to see. */
class ReplayClassifier implements WindowClassifier {
  next = false;
  constructor(
    private readonly onReset: () => void,
    private readonly onClose: () => void,
  ) {}
  isSpeech(): boolean {
    return this.next;
  }
  reset(): void {
    this.onReset();
  }
  close(): void {
    this.onClose();
  }
}

/** Tells a holder's decisions from those of windows sent before a reset or by the session's former holder. */
let leases = 0;

/**
 * A per-call VAD whose Silero inference runs in a worker thread. `push` sends each complete 512-sample window to
 * the call's session there and returns the events that the decisions which came back since the last push caused
 * (the same Endpointer as in-thread, fed the same windows in the same order, so the same events at the same audio
 * positions). The price is delivery: an event comes with the push after its decision arrives, one 20 ms frame
 * later than in-thread on a phone line. A caller that pushes a whole clip without yielding gets its events on a
 * later push (after the event loop has run), so offline users (benches, tests of boundaries) use 0 threads.
 */
export class ThreadedVad {
  readonly #inner: Endpointer;
  readonly #replay: ReplayClassifier;
  readonly #pool: SileroThreadPool;
  readonly #session: RemoteSession;
  readonly #hooks: EndpointerHooks;
  readonly #windows = new WindowAccumulator(WINDOW);
  /** windows sent, oldest first, waiting for their decisions */
  readonly #inFlight: Int16Array[] = [];
  #ready: VadEvent[] = [];
  #lease = ++leases;
  #closed = false;

  constructor(
    cfg: ConstructorParameters<typeof Endpointer>[0],
    pool: SileroThreadPool,
    hooks: EndpointerHooks,
    onReleased: () => void,
  ) {
    this.#pool = pool;
    this.#hooks = hooks;
    this.#session = pool.acquire((lease, speech) => this.#decided(lease, speech));
    this.#replay = new ReplayClassifier(
      () => {
        // windows in flight belong to the audio before the reset: their decisions are dropped
        this.#lease = ++leases;
        this.#inFlight.length = 0;
        this.#pool.reset(this.#session);
      },
      () => {
        pool.release(this.#session);
        onReleased();
      },
    );
    this.#inner = new Endpointer(cfg, this.#replay, hooks);
  }

  get speaking(): boolean {
    return this.#inner.speaking;
  }

  /** Windows sent whose decision has not come back (a backlog says the worker is behind). */
  get inFlight(): number {
    return this.#inFlight.length;
  }

  push(pcm16k: Int16Array): VadEvent[] {
    const rejected = pushRejection(pcm16k, this.#closed);
    if (rejected) return this.#reject(rejected);
    this.#windows.push(pcm16k, this.#send);
    const events = this.#ready;
    this.#ready = [];
    return events;
  }

  /** Sends a complete window to the worker and keeps it for the Endpointer until its decision comes back. */
  readonly #send = (window: Int16Array): void => {
    const own = window.slice();
    this.#inFlight.push(own);
    // the worker gets its own copy (transferred); ours stays for the Endpointer
    this.#pool.classify(this.#session, this.#lease, own.slice());
  };

  /** Resolves once every window sent so far has its decision (tests and orderly shutdown). */
  async settled(timeoutMs = 5000): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (this.#inFlight.length > 0 && !this.#closed) {
      if (performance.now() > end) throw new Error(`VAD worker: ${this.#inFlight.length} windows undecided`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  reset(): void {
    this.#windows.clear();
    this.#ready = [];
    this.#inner.reset();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inFlight.length = 0;
    this.#ready = [];
    this.#inner.close();
  }

  #decided(lease: number, speech: Uint8Array): void {
    if (lease !== this.#lease || this.#closed) return;
    for (const decision of speech) {
      const window = this.#inFlight.shift();
      if (!window) return;
      this.#replay.next = decision === 1;
      this.#ready.push(...this.#inner.push(window));
    }
  }

  #reject(reason: 'closed' | 'not-int16' | 'oversize'): VadEvent[] {
    this.#hooks.onReject(reason);
    return [];
  }
}
