import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK = 'outbox.lock';

/** pid of a live process holding the outbox dir, if any. */
export function lockHolder(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, LOCK), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** One process per outbox dir: two would deliver the same jobs twice. A lock left by `kill -9` is taken over. */
export function takeLock(dir: string): void {
  const holder = lockHolder(dir);
  if (holder !== undefined && holder !== process.pid) {
    throw new Error(`crm outbox ${dir} is in use by process ${holder}`);
  }
  writeFileSync(join(dir, LOCK), String(process.pid));
}

/** Let the next process have the dir. */
export function releaseLock(dir: string): void {
  rmSync(join(dir, LOCK), { force: true });
}
