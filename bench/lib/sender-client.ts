/** The bench side of bench/lib/rtp-sender.ts: forks it and talks to it over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { SenderCommand, SenderReport } from './rtp-sender.js';

export class Sender {
  private readonly child: ChildProcess;
  private readonly reports: SenderReport[] = [];
  private waiters: Array<() => void> = [];

  constructor() {
    this.child = fork(fileURLToPath(new URL('./rtp-sender.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: SenderReport) => {
      this.reports.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  command(cmd: SenderCommand): void {
    this.child.send(cmd);
  }

  async next<T extends SenderReport['type']>(type: T, timeoutMs = 10_000): Promise<Extract<SenderReport, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.reports.findIndex((r) => r.type === type);
      if (i >= 0) return this.reports.splice(i, 1)[0] as Extract<SenderReport, { type: T }>;
      if (Date.now() > deadline) throw new Error(`sender did not report ${type} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    this.command({ type: 'exit' });
    if (this.child.exitCode === null) await once(this.child, 'exit');
  }
}
