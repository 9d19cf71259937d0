import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileSinkConfig } from '../config.js';
import type { DeliveryContext, DeliveryJob, DeliveryResult, TicketSink } from '../sink.js';

/**
 * JSON Lines, one line per delivery, fsync'd before the job counts as done. A crash between the
 * write and the outbox's "done" can repeat a line: readers dedupe on `jobId`.
 */
export class FileSink implements TicketSink {
  readonly type = 'file';
  #handle: Promise<FileHandle> | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  constructor(
    readonly name: string,
    readonly config: FileSinkConfig,
  ) {}

  #open(): Promise<FileHandle> {
    this.#handle ??= mkdir(dirname(this.config.path), { recursive: true }).then(() => open(this.config.path, 'a'));
    return this.#handle;
  }

  async deliver(job: DeliveryJob, _ctx: DeliveryContext): Promise<DeliveryResult> {
    const line = `${JSON.stringify({ jobId: job.id, event: job.event, deliveredAt: new Date().toISOString(), record: job.record })}\n`;
    // One writer at a time: interleaved appends from concurrent deliveries would tear lines.
    const write = this.#chain.then(async () => {
      const fh = await this.#open();
      await fh.appendFile(line, 'utf8');
      await fh.sync();
    });
    this.#chain = write.catch(() => undefined);
    await write;
    return { detail: `appended to ${this.config.path}` };
  }

  async close(): Promise<void> {
    await this.#chain;
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) await (await handle).close();
  }
}
