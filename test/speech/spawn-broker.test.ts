import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SpawnBroker } from '../../src/speech/tts/spawn-broker.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setImmediate(r));
  }
}

function childrenOf(pid: number): string[] {
  try {
    return execFileSync('ps', ['-o', 'comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n');
  } catch {
    return []; // ps exits 1 when there are none
  }
}

async function text(out: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of out) parts.push(b);
  return Buffer.concat(parts).toString();
}

describe('SpawnBroker', () => {
  it('runs a command with the input on stdin, streams stdout and reports the exit code and stderr', async () => {
    const broker = new SpawnBroker();
    const proc = broker.run('sh', ['-c', 'tr a-z A-Z; echo oops >&2; exit 3'], 'hello');
    expect(await text(proc.stdout)).toBe('HELLO');
    const exit = await proc.exited;
    expect([exit.code, exit.error]).toEqual([3, undefined]);
    expect(proc.stderr().trim()).toBe('oops');
    broker.close();
  });

  it('reports a missing binary as an error exit and keeps serving', async () => {
    const broker = new SpawnBroker();
    const missing = broker.run('/nonexistent/espeak-ng', [], '');
    expect(await text(missing.stdout)).toBe('');
    expect((await missing.exited).error?.message).toMatch(/ENOENT/);
    expect(await text(broker.run('echo', ['ok'], '').stdout)).toBe('ok\n');
    broker.close();
  });

  it('kill() SIGKILLs the process; close() ends the broker and every child it still runs', async () => {
    const broker = new SpawnBroker();
    const sleeper = broker.run('sleep', ['30'], '');
    sleeper.kill();
    expect((await sleeper.exited).signal).toBe('SIGKILL');
    const orphan = broker.run('sleep', ['30'], '');
    const pid = broker.pid!;
    await waitFor(() => childrenOf(pid).includes('sleep'), 5000);
    broker.close();
    const exit = await orphan.exited;
    expect(exit.error?.message ?? exit.signal).toBeTruthy();
    await waitFor(() => !alive(pid), 5000);
  });
});
