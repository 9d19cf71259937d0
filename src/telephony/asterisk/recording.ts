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

  constructor(host: AsteriskCallHost, callId: string, bridgeId: string, log: Logger) {
    this.#host = host;
    this.#callId = callId;
    this.#bridgeId = bridgeId;
    this.#log = log;
    this.#name = `voicebot-${callId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
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

  /** Stop (if still running), fetch the file, publish. Returns the path, or null when nothing was recorded. */
  async finish(): Promise<string | null> {
    const { client, router, config, events } = this.#host;
    try {
      if (!this.#started) return null;
      try {
        await client.stopRecording(this.#name);
      } catch (err) {
        if (!isGone(err)) throw err; // gone: it already stopped at maxDurationSeconds
      }
      await this.#waitFinished();
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
