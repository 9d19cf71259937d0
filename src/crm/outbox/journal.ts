import { closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Append-only JSON Lines journal with group commit: appends that arrive while a write is in
 * flight are batched into the next write + fsync, so durability costs one fsync per batch, not per record.
 */
export class Journal<R> {
  #handle: FileHandle | undefined;
  #queue: Array<{ lines: string; done: () => void; fail: (e: unknown) => void }> = [];
  #writing: Promise<void> | undefined;
  #rewrite: { lines: string[]; done: () => void; fail: (e: unknown) => void } | undefined;
  /** records appended since open or the last rewrite */
  appended = 0;

  private constructor(readonly path: string) {}

  static async open<R>(path: string): Promise<Journal<R>> {
    const j = new Journal<R>(path);
    j.#handle = await open(path, 'a');
    return j;
  }

  /** Reads every complete record; a torn last line (crash mid-write) is skipped and counted. */
  static read<R>(path: string): { records: R[]; torn: number } {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], torn: 0 };
      throw err;
    }
    const records: R[] = [];
    let torn = 0;
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      try {
        records.push(JSON.parse(line) as R);
      } catch {
        torn++;
      }
    }
    return { records, torn };
  }

  /** Resolves once the records are written and fsync'd. */
  append(...records: R[]): Promise<void> {
    this.appended += records.length;
    const lines = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    return new Promise((done, fail) => {
      this.#queue.push({ lines, done, fail });
      this.#kick();
    });
  }

  /** Atomically replace the journal with these records (compaction): tmp file, fsync, rename, fsync dir. */
  rewrite(records: R[]): Promise<void> {
    return new Promise((done, fail) => {
      this.#rewrite = { lines: records.map((r) => JSON.stringify(r)), done, fail };
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#writing) return;
    this.#writing = this.#flush().finally(() => {
      this.#writing = undefined;
      if (this.#queue.length > 0 || this.#rewrite) this.#kick();
    });
  }

  async #flush(): Promise<void> {
    const rewrite = this.#rewrite;
    this.#rewrite = undefined;
    if (rewrite) {
      try {
        await this.#replace(rewrite.lines);
        this.appended = 0;
        rewrite.done();
      } catch (err) {
        rewrite.fail(err);
      }
    }
    const batch = this.#queue.splice(0);
    if (batch.length === 0) return;
    try {
      const handle = this.#handle;
      if (!handle) throw new Error('journal is closed');
      await handle.appendFile(batch.map((b) => b.lines).join(''), 'utf8');
      await handle.datasync();
      for (const b of batch) b.done();
    } catch (err) {
      for (const b of batch) b.fail(err);
    }
  }

  async #replace(lines: string[]): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(lines.length > 0 ? `${lines.join('\n')}\n` : '', 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir); // make the rename itself durable
    } finally {
      closeSync(dir);
    }
    await this.#handle?.close();
    this.#handle = await open(this.path, 'a');
  }

  async close(): Promise<void> {
    while (this.#writing) await this.#writing;
    await this.#handle?.close();
    this.#handle = undefined;
  }
}
