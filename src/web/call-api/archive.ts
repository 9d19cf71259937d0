import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CallEventBus } from '../../core/call-events.js';
import { callRecordSchema, type CallRecord } from '../../core/call-record.js';
import type { Logger } from '../../log/logger.js';

/** Recordings announced for calls not archived yet are remembered up to this many (then the oldest go). */
const MAX_PENDING_RECORDINGS = 1000;

/**
 * Finished calls, one JSON file each, for the read-only call API (the Zendesk sidebar app). The file name is a
 * hash of the call id: no id can reach outside the folder. A recording announced after the call ended (Asterisk
 * fetches it after hangup) is added to the call's file when it comes.
 */
export class CallArchive {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #unsubscribe: () => void;
  readonly #recordings = new Map<string, string>();
  /** one operation at a time: a recording announced while the call's file is being written waits for it */
  #queue: Promise<void> = Promise.resolve();

  constructor(dir: string, events: CallEventBus, logger: Logger) {
    this.#dir = resolve(dir);
    this.#log = logger;
    this.#unsubscribe = events.subscribe((e) => {
      if (e.type === 'call-ended') this.#enqueue(() => this.#store(e.record));
      if (e.type === 'recording') this.#enqueue(() => this.#addRecording(e.callId, e.path));
    });
  }

  #file(callId: string): string {
    return join(this.#dir, `${createHash('sha256').update(callId).digest('hex').slice(0, 40)}.json`);
  }

  async get(callId: string): Promise<CallRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file(callId), 'utf8');
    } catch {
      return undefined;
    }
    const parsed = callRecordSchema.safeParse(JSON.parse(text));
    return parsed.success && parsed.data.callId === callId ? parsed.data : undefined;
  }

  async #store(record: CallRecord): Promise<void> {
    const path = this.#recordings.get(record.callId);
    this.#recordings.delete(record.callId);
    const withRecording: CallRecord =
      path && !record.recording ? { ...record, recording: { path, format: path.split('.').pop() ?? 'wav' } } : record;
    await this.#write(withRecording);
  }

  async #addRecording(callId: string, path: string): Promise<void> {
    const record = await this.get(callId);
    if (!record) {
      this.#recordings.set(callId, path);
      if (this.#recordings.size > MAX_PENDING_RECORDINGS)
        this.#recordings.delete(this.#recordings.keys().next().value!);
      return;
    }
    if (record.recording?.path === path) return;
    await this.#write({ ...record, recording: { path, format: path.split('.').pop() ?? 'wav' } });
  }

  /** Write then rename: a reader never sees half a file. */
  async #write(record: CallRecord): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const file = this.#file(record.callId);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(record));
    await rename(tmp, file);
  }

  #enqueue(op: () => Promise<void>): void {
    this.#queue = this.#queue
      .then(op)
      .catch((err: unknown) => this.#log.warn({ error: (err as Error).message }, 'call archive: write failed'));
  }

  /** Resolves once every write started so far is done (tests, shutdown). */
  async flush(): Promise<void> {
    await this.#queue;
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    await this.flush();
  }
}
