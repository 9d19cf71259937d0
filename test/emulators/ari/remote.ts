/**
 * The ARI emulator in a process of its own (runner.ts), driven over IPC: Asterisk's side of a multi-process test.
 *
 *   const emu = await RemoteAriEmulator.start();
 *   await emu.outboundWebsocket({ uri, username: emu.username, password: emu.password, connectionType: 'per_call_config' });
 *   const { channelId } = await emu.placeCall('+15550001');
 *   emu.on('talk', (t) => …);                    // bot speech starting/stopping at a caller (wall-clock ms)
 *   await emu.speak(channelId, clip('jfk.wav')); // the caller's speech, real time
 *   await emu.snapshot();                        // channels, bridges, open media legs: leak checks
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { OutboundWebsocketConfig } from './outbound.js';
import type { EmulatorSnapshot, RunnerEvent, RunnerRequest } from './runner-protocol.js';

export type { EmulatorSnapshot } from './runner-protocol.js';
export { TALK_GAP_MS, wallNow } from './runner-protocol.js';

type Talk = Extract<RunnerEvent, { type: 'talk' }>;
type Ended = Extract<RunnerEvent, { type: 'ended' }>;
type Dialplan = Extract<RunnerEvent, { type: 'dialplan' }>;

interface RemoteEvents {
  talk: [Talk];
  ended: [Ended];
  dialplan: [Dialplan];
}

/** placeCall found no bot after its attempts: the call went on in the dialplan (STASISSTATUS=FAILED). */
export class RemoteStasisFailed extends Error {}

/** Distributes Omit over a union (the built-in Omit would collapse it). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class RemoteAriEmulator extends EventEmitter<RemoteEvents> {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #nextId = 1;

  private constructor(
    child: ChildProcess,
    readonly username: string,
    readonly password: string,
  ) {
    super();
    this.#child = child;
    child.on('message', (ev: RunnerEvent) => {
      if (ev.type === 'reply') {
        const p = this.#pending.get(ev.id);
        this.#pending.delete(ev.id);
        if (ev.ok) p?.resolve(ev.value);
        else p?.reject(ev.stasisFailed ? new RemoteStasisFailed(ev.error) : new Error(ev.error));
      } else if (ev.type === 'talk' || ev.type === 'ended' || ev.type === 'dialplan') {
        (this.emit as (t: string, e: RunnerEvent) => boolean)(ev.type, ev);
      }
    });
    child.on('exit', () => {
      for (const p of this.#pending.values()) p.reject(new Error('the ARI emulator process exited'));
      this.#pending.clear();
    });
  }

  static async start(timeoutMs = 30_000): Promise<RemoteAriEmulator> {
    const child = fork(fileURLToPath(new URL('./runner.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const [ready] = (await once(child, 'message', { signal: AbortSignal.timeout(timeoutMs) })) as [RunnerEvent];
    if (ready.type !== 'ready') throw new Error(`ARI emulator process said ${ready.type} first`);
    return new RemoteAriEmulator(child, ready.username, ready.password);
  }

  #request<T>(req: WithoutId<RunnerRequest>, timeoutMs = 60_000): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`ARI emulator process: no answer to ${req.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#child.send({ ...req, id });
    });
  }

  outboundWebsocket(cfg: OutboundWebsocketConfig): Promise<void> {
    return this.#request({ op: 'outbound', cfg });
  }

  /** A SIP caller reaches Stasis(voicebot); rejects with RemoteStasisFailed when no bot took the call. */
  placeCall(from: string): Promise<{ channelId: string; channelName: string }> {
    return this.#request({ op: 'place', from });
  }

  /** The caller says a clip (PCM WAV) in real time; resolves with when it started and ended (wall-clock ms). */
  speak(channelId: string, wav: string): Promise<{ startAt: number; endAt: number }> {
    return this.#request({ op: 'speak', channelId, wav });
  }

  hangup(channelId: string): Promise<void> {
    return this.#request({ op: 'hangup', channelId });
  }

  snapshot(): Promise<EmulatorSnapshot> {
    return this.#request({ op: 'snapshot' });
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = once(this.#child, 'exit');
    await this.#request({ op: 'close' }, 10_000).catch(() => this.#child.kill('SIGKILL'));
    await exited;
  }
}
