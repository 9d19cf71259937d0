/**
 * One bot instance as an operator runs it: `voicebot start --config <file>` (the real CLI entry, through tsx) in
 * its own process, with its own web port and RTP range. Ready when /readyz answers 200; `kill('SIGKILL')` is a
 * crash, `kill('SIGTERM')` the graceful drain the CLI runs on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './fixtures.js';
import { freePort } from './redis.js';

export interface VoicebotExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Keep the last this many characters of a process's output, for the message of a failing test. */
const OUTPUT_TAIL = 20_000;

/** Every bot still running: killed when the test process exits, however it exits (never an orphan bot). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class VoicebotProcess {
  #output = '';
  readonly exited: Promise<VoicebotExit>;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly port: number,
  ) {
    const keep = (d: Buffer) => (this.#output = (this.#output + d.toString()).slice(-OUTPUT_TAIL));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = once(child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  /**
   * Writes `config` (merged over web host/port) to `<dir>/<name>.json` and starts the bot on it; resolves once it is
   * ready, rejects (with its output) if it exits or is not ready in `readyTimeoutMs`.
   */
  static async start(
    config: Record<string, unknown>,
    opts: { dir: string; name: string; readyTimeoutMs?: number; env?: NodeJS.ProcessEnv },
  ): Promise<VoicebotProcess> {
    const port = await freePort();
    const file = join(opts.dir, `${opts.name}.json`);
    const web = { ...(config.web as Record<string, unknown> | undefined), host: '127.0.0.1', port };
    writeFileSync(file, JSON.stringify({ ...config, web }, null, 2));
    // everything it writes also goes to <dir>/<name>.log, for a look after a failure
    const log = openSync(join(opts.dir, `${opts.name}.log`), 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', file], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const copy = (d: Buffer) => appendFileSync(log, d);
    child.stdout?.on('data', copy);
    child.stderr?.on('data', copy);
    running.add(child);
    child.once('exit', () => {
      running.delete(child);
      closeSync(log);
    });
    const bot = new VoicebotProcess(child, `http://127.0.0.1:${port}`, port);
    try {
      await bot.#ready(opts.readyTimeoutMs ?? 60_000);
    } catch (err) {
      bot.kill('SIGKILL');
      await bot.exited;
      throw new Error(`${(err as Error).message}\n--- ${opts.name} output ---\n${bot.output}`);
    }
    return bot;
  }

  async #ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      if (exited) throw new Error(`voicebot exited before it was ready (${JSON.stringify(this.child.exitCode)})`);
      if (Date.now() > deadline) throw new Error(`voicebot not ready within ${timeoutMs} ms`);
      const status = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** the last part of what it wrote (logs), for failure messages */
  get output(): string {
    return this.#output;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** SIGINT (stop at once), bounded; SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<VoicebotExit> {
    this.kill('SIGINT');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}
