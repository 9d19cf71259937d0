/**
 * Starts the product in its own process (bench/lib/bot-main.ts) for the edge benches and talks to it over IPC.
 * `execArgv` lets a bench profile it (e.g. --cpu-prof); its stderr (logs) goes to the bench's stderr.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export type BotRequest = { type: 'stats' } | { type: 'stop' };
export type BotReport =
  | { type: 'ready'; url: string }
  | {
      type: 'stats';
      pacer: { frames: number; skipped: number };
      cpuMs: number;
      eventLoopP99Ms: number;
      eventLoopMaxMs: number;
      /** the bot's own account of the turns it answered since the last stats (its `turn-latency` events) */
      turnStages: TurnStageSummary;
    };

/**
 * p50/p95 per stage of the answered turns, in ms, from the product's `turn-latency` event: the VAD's end-of-turn
 * wait, the final recognition, intent detection, synthesis to the first audio handed to the leg, and their total.
 * The edge's latency minus `total` is what happened outside the call core: the media path both ways.
 */
export interface TurnStageSummary {
  turns: number;
  endpointing: { p50: number; p95: number };
  asr: { p50: number; p95: number };
  nlu: { p50: number; p95: number };
  tts: { p50: number; p95: number };
  total: { p50: number; p95: number };
}
export type BotStats = Extract<BotReport, { type: 'stats' }>;

export class BotProcess {
  private readonly waiting = new Map<BotReport['type'], Array<(r: BotReport) => void>>();

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (r: BotReport) => {
      const list = this.waiting.get(r.type) ?? [];
      this.waiting.delete(r.type);
      for (const w of list) w(r);
    });
  }

  static async start(
    config: Record<string, unknown>,
    opts: { execArgv?: string[]; timeoutMs?: number } = {},
  ): Promise<BotProcess> {
    const child = fork(fileURLToPath(new URL('./bot-main.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx', ...(opts.execArgv ?? [])],
      env: { ...process.env, BENCH_BOT_CONFIG: JSON.stringify(config) },
      // its logs (stdout) go to the bench's stderr: the bench's stdout carries figures only
      stdio: ['ignore', 2, 2, 'ipc'],
    });
    const ready = await Promise.race([
      once(child, 'message') as Promise<[BotReport]>,
      once(child, 'exit').then(([code]) => {
        throw new Error(`bot process exited (${String(code)}) before it was ready`);
      }),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('bot process not ready in time')), opts.timeoutMs ?? 120_000).unref(),
      ),
    ]);
    const report = ready[0];
    if (report.type !== 'ready') throw new Error(`bot process said ${report.type} first`);
    return new BotProcess(child, report.url);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private request<T extends BotReport['type']>(req: BotRequest, reply: T, timeoutMs = 10_000) {
    return new Promise<Extract<BotReport, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bot process: no ${reply} within ${timeoutMs} ms`)), timeoutMs);
      const list = this.waiting.get(reply) ?? [];
      list.push((r) => {
        clearTimeout(timer);
        resolve(r as Extract<BotReport, { type: T }>);
      });
      this.waiting.set(reply, list);
      this.child.send(req);
    });
  }

  stats(): Promise<BotStats> {
    return this.request({ type: 'stats' }, 'stats');
  }

  async stop(timeoutMs = 20_000): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
