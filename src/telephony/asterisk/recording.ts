import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '../../log/logger.js';
import { isGone } from './ari-client.js';
import type { AriEvent } from './ari-types.js';
import { recordingKey } from './ari-types.js';
import type { AsteriskCallHost } from './call-host.js';

const FINISH_TIMEOUT_MS = 3000;

/**
 * Bridge recording to WAV: Asterisk records the mixed bridge (bounded by maxDurationSeconds); at the end of the
 * call we stop it, wait for RecordingFinished, fetch the stored file into recording.dir and publish a
 * `recording` CallEvent with the path.
 *
 * The recording belongs to the bridge, not to the ARI connection that started it: Asterisk records through a
 * `Recorder` channel of its own in the bridge, driven by a control thread of its own (res/ari/resource_bridges.c
 * `ast_ari_bridges_record`, `bridge_channel_control_thread`), so it goes on when the bot process that asked for it
 * dies, until it is stopped by name, reaches maxDurationSeconds, or the bridge goes. The instance that takes the call
 * over adopts it by the name kept in the session store (`adopt`), and finishes it at the end like its own.
 */
export class BridgeRecorder {
  readonly #name: string;
  #started = false;
  #finished = false;
  #finishedWaiters: Array<() => void> = [];
  readonly #host: AsteriskCallHost;
  readonly #callId: string;
  readonly #bridgeId: string;
  readonly #log: Logger;

  constructor(host: AsteriskCallHost, callId: string, bridgeId: string, log: Logger, name?: string) {
    this.#host = host;
    this.#callId = callId;
    this.#bridgeId = bridgeId;
    this.#log = log;
    this.#name = name ?? `voicebot-${callId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  }

  /** A recording another process started on the call's bridge (it died, or let go): ours to finish now. */
  static adopt(host: AsteriskCallHost, callId: string, bridgeId: string, name: string, log: Logger): BridgeRecorder {
    const recorder = new BridgeRecorder(host, callId, bridgeId, log, name);
    host.router.route(recordingKey(name), (ev) => recorder.#onEvent(ev));
    recorder.#started = true;
    log.info({ recording: name }, 'bridge recording adopted from the previous instance');
    return recorder;
  }

  get name(): string {
    return this.#name;
  }

  async start(maxSeconds: number, signal: AbortSignal): Promise<void> {
    this.#host.router.route(recordingKey(this.#name), (ev) => this.#onEvent(ev));
    await this.#host.client.recordBridge(
      this.#bridgeId,
      { name: this.#name, format: 'wav', maxDurationSeconds: maxSeconds, ifExists: 'overwrite' },
      signal,
    );
    this.#started = true;
    this.#log.info({ recording: this.#name, maxSeconds }, 'bridge recording started');
  }

  #onEvent(ev: AriEvent): void {
    if (ev.type === 'RecordingFinished' || ev.type === 'RecordingFailed') {
      this.#finished = true;
      for (const w of this.#finishedWaiters.splice(0)) w();
    }
  }

  async #waitFinished(): Promise<void> {
    if (this.#finished) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FINISH_TIMEOUT_MS);
      this.#finishedWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** This process lets go of the call (hand-over): the recording goes on for whoever serves the call next. */
  leave(): void {
    this.#host.router.release(recordingKey(this.#name));
  }

  /** Stop (if still running), fetch the file, publish. Returns the path, or null when nothing was recorded. */
  async finish(): Promise<string | null> {
    const { client, router, config, events } = this.#host;
    try {
      if (!this.#started) return null;
      try {
        await client.stopRecording(this.#name);
        await this.#waitFinished();
      } catch (err) {
        // gone: no live recording by that name, it is stored already (it stopped at maxDurationSeconds, or while
        // the call was being taken over and nobody heard its RecordingFinished)
        if (!isGone(err)) throw err;
      }
      const wav = await client.storedRecordingFile(this.#name);
      const dir = resolve(config.recording.dir);
      await mkdir(dir, { recursive: true });
      const path = join(dir, `${this.#name}.wav`);
      await writeFile(path, wav);
      await client.deleteStoredRecording(this.#name).catch(() => undefined);
      events?.publish({ type: 'recording', callId: this.#callId, path });
      this.#log.info({ path, bytes: wav.length }, 'recording saved');
      return path;
    } finally {
      router.release(recordingKey(this.#name));
    }
  }
}
