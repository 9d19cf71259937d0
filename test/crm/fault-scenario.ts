import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { startZendeskEmulator } from '../emulators/zendesk/server.js';
import { tempDir, waitFor } from './helpers.js';

export interface FaultCounts {
  calls: number;
  tickets: number;
  lost: number;
  duplicated: number;
  duplicateEndComments: number;
  missingEndComments: number;
  deadLetters: number;
  requests: number;
  injectedFaults: number;
  killedAtTickets: number;
  seconds: number;
}

const CHILD = join(import.meta.dirname, 'fault-child.ts');

function spawnChild(env: Record<string, string>): {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // not ours
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

/**
 * 1000 calls' records against a Zendesk emulator failing `faultRate` of requests (429, 5xx, slow past the
 * client timeout), delivered by a child process that is SIGKILLed once `killAtFraction` of tickets exist,
 * then restarted. Counts tickets per call afterwards.
 */
export async function runFaultScenario(
  opts: { calls?: number; faultRate?: number; killAtFraction?: number; timeoutMs?: number } = {},
): Promise<FaultCounts> {
  const calls = opts.calls ?? 1000;
  const started = performance.now();
  const emu = await startZendeskEmulator({ seed: 42 });
  for (let i = 0; i < 50; i++)
    emu.addUser({
      name: `Known ${i}`,
      phone: `+1 (555) ${String(1_000_000 + i).slice(1, 4)}-${String(1_000_000 + i).slice(4)}`,
    });
  Object.assign(emu.faults, {
    rate: opts.faultRate ?? 0.2,
    mix: { 429: 1, 500: 1, 503: 1, timeout: 1 },
    retryAfterSec: 1,
    slowMs: 400,
  });
  const tmp = tempDir('voicebot-crm-fault-');
  const env = {
    ZD_URL: emu.url,
    ZD_EMAIL: emu.email,
    ZD_TOKEN: emu.token,
    ZD_TIMEOUT_MS: String(opts.timeoutMs ?? 250),
    OUTBOX_DIR: join(tmp.dir, 'outbox'),
    COUNT: String(calls),
  };
  try {
    const first = spawnChild({ ...env, MODE: 'enqueue' });
    const killAt = Math.floor(calls * (opts.killAtFraction ?? 0.4));
    await waitFor(() => first.lines.some((l) => l.enqueued !== undefined), 40_000, 'records enqueued');
    await waitFor(
      () => emu.tickets.size >= killAt || first.lines.some((l) => l.drained),
      40_000,
      'deliveries under way',
    );
    const killedAtTickets = emu.tickets.size;
    first.child.kill('SIGKILL');
    await first.exited;

    const second = spawnChild({ ...env, MODE: 'resume' });
    const code = await second.exited;
    if (code !== 0) throw new Error(`resumed delivery process exited with ${code}`);
    const result = second.lines.find((l) => l.drained) ?? {};
    await waitFor(() => emu.active === 0, 5000, 'emulator idle'); // slow faults still finishing

    const perCall = new Map<string, number>();
    let duplicateEndComments = 0;
    let missingEndComments = 0;
    for (const t of emu.tickets.values()) {
      perCall.set(t.external_id ?? '', (perCall.get(t.external_id ?? '') ?? 0) + 1);
      const ends = t.comments.filter((c) => /voicebot-step: \S+\/end$/m.test(c.body)).length;
      if (ends > 1) duplicateEndComments += ends - 1;
      if (ends === 0) missingEndComments++;
    }
    let lost = 0;
    let duplicated = 0;
    for (let i = 0; i < calls; i++) {
      const n = perCall.get(`voicebot-fault-${String(i).padStart(4, '0')}`) ?? 0;
      if (n === 0) lost++;
      if (n > 1) duplicated += n - 1;
    }
    let requests = 0;
    let injectedFaults = 0;
    for (const [k, v] of emu.stats) {
      requests += v;
      if (/ (429|500|503|slow)$/.test(k)) injectedFaults += v;
    }
    return {
      calls,
      tickets: emu.tickets.size,
      lost,
      duplicated,
      duplicateEndComments,
      missingEndComments,
      deadLetters: Number(result.dead ?? -1),
      requests,
      injectedFaults,
      killedAtTickets,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await emu.close();
    tmp.cleanup();
  }
}
