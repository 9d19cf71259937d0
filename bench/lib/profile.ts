/**
 * CPU profiles of the bot process for the concurrency bench: V8's --cpu-prof (the JavaScript thread: where the
 * event loop's time goes) and Linux `perf` (every thread, native code included: whisper.cpp on libuv's pool,
 * onnxruntime, V8). Both are summarised as the top functions by self time, as shares of all samples.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface HotSpot {
  name: string;
  /** share of all samples, 0..1 */
  share: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
}

const IDLE = '(idle)';

/**
 * Top `n` functions by self samples, as shares of the busy (not idle) samples, in the busiest .cpuprofile under
 * `dir`: Node writes one per thread (tsx's module loader thread has its own), the main thread is the busy one.
 */
export function summariseCpuProfile(dir: string, n = 5): HotSpot[] {
  const profiles = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile);
  const busy = (p: CpuProfile) => {
    const idle = new Set(p.nodes.filter((x) => x.callFrame.functionName === IDLE).map((x) => x.id));
    return p.samples.filter((id) => !idle.has(id)).length;
  };
  const profile = profiles.sort((a, b) => busy(b) - busy(a))[0];
  if (!profile) return [];
  const names = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url
      .replace(/^file:\/\//, '')
      .replace(/.*\/(node_modules\/)/, '$1')
      .replace(/.*\/work\/[^/]+\/[^/]+\//, '');
    names.set(node.id, `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`);
  }
  return top(
    profile.samples.map((id) => names.get(id) ?? '?').filter((name) => name !== IDLE),
    n,
  );
}

function top(labels: string[], n: number): HotSpot[] {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, c]) => ({ name, share: Number((c / labels.length).toFixed(4)) }));
}

export function perfAvailable(): boolean {
  return spawnSync('perf', ['--version']).status === 0;
}

/** `perf record` on one process (all its threads) until stopped. */
export class PerfRecording {
  private readonly child: ChildProcess;

  constructor(
    pid: number,
    readonly output: string,
  ) {
    this.child = spawn('perf', ['record', '-F', '199', '-e', 'cpu-clock', '-p', String(pid), '-o', output], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGINT');
    await Promise.race([done, new Promise((r) => setTimeout(r, 15_000))]);
  }

  /** Top `n` symbols (with their library) by self samples; whisper.cpp/ggml, onnxruntime, V8 and node show as such. */
  summarise(n = 5): HotSpot[] {
    if (!existsSync(this.output)) return [];
    const r = spawnSync(
      'perf',
      ['report', '-i', this.output, '--stdio', '--no-children', '--sort', 'dso,sym', '--percent-limit', '0.5'],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    const spots: HotSpot[] = [];
    for (const line of r.stdout.split('\n')) {
      const m = /^\s+([\d.]+)%\s+(\S+)\s+\[[.kH]\]\s+(.+)$/.exec(line);
      if (m) spots.push({ name: `${m[3]!.trim()} (${m[2]})`, share: Number(m[1]) / 100 });
      if (spots.length === n) break;
    }
    return spots;
  }

  /** Share of samples per library (dso): how much of the process whisper.cpp's code is. */
  byLibrary(n = 6): HotSpot[] {
    if (!existsSync(this.output)) return [];
    const r = spawnSync('perf', ['report', '-i', this.output, '--stdio', '--no-children', '--sort', 'dso'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const spots: HotSpot[] = [];
    for (const line of r.stdout.split('\n')) {
      const m = /^\s+([\d.]+)%\s+(.+)$/.exec(line);
      if (m) spots.push({ name: m[2]!.trim(), share: Number(m[1]) / 100 });
      if (spots.length === n) break;
    }
    return spots;
  }
}
