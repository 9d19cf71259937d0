import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { samePhone } from '../../src/crm/phone.js';
import { startHubspotEmulator, type HubspotEmulator } from '../emulators/hubspot/server.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';
import {
  KNOWN_CALLERS,
  faultCallId,
  faultCallPhone,
  knownCallerPhone,
  markerCallId,
  markerStep,
  repeatedSteps,
} from './fault-calls.js';
import { startRedis } from '../helpers/redis.js';
import { tempDir, waitFor } from './helpers.js';

export interface FaultCounts {
  crm: 'zendesk' | 'hubspot';
  calls: number;
  /** Zendesk tickets / HubSpot call engagements */
  tickets: number;
  lost: number;
  duplicated: number;
  /** comments (Zendesk) or notes (HubSpot) whose call id is not the call of the ticket / engagement they are on */
  foreignComments: number;
  /** comments or notes checked for their call id (the foreign count compared this many) */
  commentsChecked: number;
  /** tickets or engagements whose requester / contact is not the caller */
  misfiledCallers: number;
  /** a step (escalation, end, recording) written twice on one ticket / engagement */
  duplicateComments: number;
  missingEndComments: number;
  /** HubSpot: contacts the bot made twice for one number */
  duplicateContacts: number;
  deadLetters: number;
  requests: number;
  injectedFaults: number;
  killedAtTickets: number;
  seconds: number;
}

type Tally = Omit<
  FaultCounts,
  'crm' | 'calls' | 'deadLetters' | 'killedAtTickets' | 'seconds' | 'lost' | 'duplicated'
> & {
  perCall: Map<string, number>;
};

interface Target {
  env: Record<string, string>;
  /** tickets / engagements made so far (the kill waits for a fraction of them) */
  made(): number;
  active(): number;
  tally(): Tally;
  close(): Promise<void>;
}

const CHILD = join(import.meta.dirname, 'fault-child.ts');

export function spawnChild(env: Record<string, string>): {
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

const faultsIn = (stats: Map<string, number>) => {
  let requests = 0;
  let injectedFaults = 0;
  for (const [k, v] of stats) {
    requests += v;
    if (/ (429|500|503|slow|foreign)$/.test(k)) injectedFaults += v;
  }
  return { requests, injectedFaults };
};

/** A tally with every count at zero but the records made and the requests the emulator saw. */
const emptyTally = (tickets: number, stats: Map<string, number>): Tally => ({
  tickets,
  perCall: new Map(),
  foreignComments: 0,
  commentsChecked: 0,
  misfiledCallers: 0,
  duplicateComments: 0,
  missingEndComments: 0,
  duplicateContacts: 0,
  ...faultsIn(stats),
});

const callIndex = (callId: string | undefined) => (callId?.startsWith('fault-') ? Number(callId.slice(6)) : -1);

/**
 * Zendesk, hostile: lookups answer with unrelated tickets and users first, and some answers to writes are about
 * another record ('foreign'), on top of 429 / 5xx / answers slower than the client timeout.
 */
async function zendeskTarget(faultRate: number, timeoutMs: number): Promise<Target> {
  const emu: ZendeskEmulator = await startZendeskEmulator({ seed: 42, unrelatedResults: true });
  for (let i = 0; i < KNOWN_CALLERS; i++) emu.addUser({ name: `Known ${i}`, phone: knownCallerPhone(i) });
  Object.assign(emu.faults, {
    rate: faultRate,
    mix: { 429: 1, 500: 1, 503: 1, timeout: 1, foreign: 1 },
    retryAfterSec: 1,
    slowMs: 400,
  });
  return {
    env: {
      CRM: 'zendesk',
      CRM_URL: emu.url,
      CRM_EMAIL: emu.email,
      CRM_TOKEN: emu.token,
      CRM_TIMEOUT_MS: String(timeoutMs),
    },
    made: () => emu.tickets.size,
    active: () => emu.active,
    tally() {
      const t = emptyTally(emu.tickets.size, emu.stats);
      for (const ticket of emu.tickets.values()) {
        const callId = ticket.external_id?.replace(/^voicebot-/, '') ?? '';
        t.perCall.set(callId, (t.perCall.get(callId) ?? 0) + 1);
        for (const c of ticket.comments) {
          t.commentsChecked++;
          if (markerCallId(c.body) !== callId) t.foreignComments++;
        }
        const requester = ticket.requester_id === null ? undefined : emu.users.get(ticket.requester_id);
        if (!requester || !samePhone(requester.phone ?? '', faultCallPhone(callIndex(callId)))) t.misfiledCallers++;
        t.duplicateComments += repeatedSteps(ticket.comments.map((c) => c.body));
        if (!ticket.comments.some((c) => markerStep(c.body) === `${callId}/end`)) t.missingEndComments++;
      }
      return t;
    },
    close: () => emu.close(),
  };
}

/** HubSpot: search lags writes by 2 s and answers with unrelated contacts first, on top of 429 / 5xx / slow answers. */
async function hubspotTarget(faultRate: number, timeoutMs: number): Promise<Target> {
  const hs: HubspotEmulator = await startHubspotEmulator({ seed: 42, searchLagMs: 2000, unrelatedResults: true });
  for (let i = 0; i < KNOWN_CALLERS; i++) hs.addContact({ phone: knownCallerPhone(i), firstname: `Known ${i}` });
  Object.assign(hs.faults, { rate: faultRate, mix: { 429: 1, 500: 1, 503: 1, timeout: 1 }, slowMs: 400 });
  return {
    env: { CRM: 'hubspot', CRM_URL: hs.url, CRM_TOKEN: hs.token, CRM_TIMEOUT_MS: String(timeoutMs) },
    made: () => hs.byType('calls').length,
    active: () => hs.active,
    tally() {
      const calls = hs.byType('calls');
      const t = emptyTally(calls.length, hs.stats);
      const callerOf = (o: { associations: Array<{ toId: string }> }, phone: string) =>
        o.associations.length === 1 &&
        samePhone(hs.objects.get(o.associations[0]!.toId)?.properties.phone ?? '', phone);
      const notesByCall = new Map<string, string[]>();
      for (const n of hs.byType('notes')) {
        const body = n.properties.hs_note_body ?? '';
        const callId = markerCallId(body) ?? '?';
        t.commentsChecked++;
        if (!n.properties.voicebot_key?.startsWith(`voicebot-${callId}/`)) t.foreignComments++;
        if (!callerOf(n, faultCallPhone(callIndex(callId)))) t.misfiledCallers++;
        notesByCall.set(callId, [...(notesByCall.get(callId) ?? []), body]);
      }
      for (const c of calls) {
        const callId = c.properties.voicebot_key?.replace(/^voicebot-/, '') ?? '';
        t.perCall.set(callId, (t.perCall.get(callId) ?? 0) + 1);
        if (markerCallId(c.properties.hs_call_body ?? '') !== callId) t.foreignComments++;
        if (!callerOf(c, faultCallPhone(callIndex(callId)))) t.misfiledCallers++;
        const notes = notesByCall.get(callId) ?? [];
        t.duplicateComments += repeatedSteps(notes);
        if (!notes.some((b) => markerStep(b) === `${callId}/end`)) t.missingEndComments++;
      }
      const perPhone = new Map<string, number>();
      for (const c of hs.byType('contacts')) {
        const d = (c.properties.phone ?? '').replace(/\D/g, '').slice(-10);
        perPhone.set(d, (perPhone.get(d) ?? 0) + 1);
      }
      for (const n of perPhone.values()) if (n > 1) t.duplicateContacts += n - 1;
      return t;
    },
    close: () => hs.close(),
  };
}

/** Where the records wait: the file outbox, or BullMQ on a real redis-server with AOF persistence. */
export interface RedisPlan {
  appendfsync: 'always' | 'everysec';
  /**
   * bot processes sharing the queue (each enqueues its share of the calls); one is SIGKILLed, the rest take over its
   * jobs and finish, then it is started again (its spill, if any, is on its own disk)
   */
  instances?: number;
  /** redis-server is SIGKILLed before the calls end (enqueue spills to disk), the bots are SIGKILLed with Redis
   * still down, then Redis and the bots start again: the spilled records must all arrive */
  downWhileEnqueueing?: boolean;
  /** crm.outbox.takeoverAfterMs of the bots */
  takeoverMs?: number;
}

/**
 * `calls` calls' records against a CRM emulator failing `faultRate` of requests, delivered by a child process that is
 * SIGKILLed once `killAtFraction` of tickets (engagements) exist, then restarted. Counts per call afterwards, and
 * checks every comment / note against the call of the ticket it is on and every ticket against its caller.
 * With `redis`, BullMQ on a real redis-server instead (see RedisPlan).
 */
export async function runFaultScenario(
  opts: {
    crm?: 'zendesk' | 'hubspot';
    calls?: number;
    faultRate?: number;
    killAtFraction?: number;
    timeoutMs?: number;
    redis?: RedisPlan;
  } = {},
): Promise<FaultCounts & { outbox: string; instances: number }> {
  const crm = opts.crm ?? 'zendesk';
  const calls = opts.calls ?? 1000;
  const started = performance.now();
  const faultRate = opts.faultRate ?? 0.2;
  const timeoutMs = opts.timeoutMs ?? 250;
  const target =
    crm === 'hubspot' ? await hubspotTarget(faultRate, timeoutMs) : await zendeskTarget(faultRate, timeoutMs);
  const tmp = tempDir('voicebot-crm-fault-');
  const redis = opts.redis ? await startRedis({ appendfsync: opts.redis.appendfsync }) : undefined;
  const instances = opts.redis?.instances ?? 1;
  const children: Array<ReturnType<typeof spawnChild>> = [];
  const envOf = (k: number): Record<string, string> => ({
    ...target.env,
    OUTBOX_DIR: join(tmp.dir, `outbox-${k}`),
    ...(redis ? { REDIS_URL: redis.url, TAKEOVER_MS: String(opts.redis?.takeoverMs ?? 2000) } : {}),
  });
  try {
    if (opts.redis?.downWhileEnqueueing) await redis!.kill();
    const share = Math.ceil(calls / instances);
    for (let k = 0; k < instances; k++) {
      const first = k * share;
      const count = Math.max(0, Math.min(share, calls - first));
      children.push(spawnChild({ ...envOf(k), MODE: 'enqueue', FIRST: String(first), COUNT: String(count) }));
    }
    const killAt = Math.floor(calls * (opts.killAtFraction ?? 0.4));
    for (const c of children) await waitFor(() => c.lines.some((l) => l.enqueued !== undefined), 60_000, 'enqueued');
    let killedAtTickets: number;
    const results: Array<Record<string, unknown>> = [];
    if (opts.redis?.downWhileEnqueueing) {
      // every record is on a bot's disk only; kill -9 them all, then bring Redis and the bots back
      killedAtTickets = target.made();
      for (const c of children) {
        c.child.kill('SIGKILL');
        await c.exited;
      }
      await redis!.restart();
      const resumed = children.map((_, k) => spawnChild({ ...envOf(k), MODE: 'resume' }));
      for (const r of resumed) results.push(await finished(r));
    } else {
      const first = children[0]!;
      await waitFor(() => target.made() >= killAt || first.lines.some((l) => l.drained), 90_000, 'deliveries');
      killedAtTickets = target.made();
      first.child.kill('SIGKILL');
      await first.exited;
      // the others take over its jobs (after takeoverMs); then it starts again, as a supervisor would restart it,
      // and forwards what it had spilled to disk (under load an enqueue can outlast enqueueTimeoutMs)
      for (const r of children.slice(1)) results.push(await finished(r));
      results.push(await finished(spawnChild({ ...envOf(0), MODE: 'resume' })));
    }
    await waitFor(() => target.active() === 0, 5000, 'emulator idle'); // slow faults still finishing

    const { perCall, ...tally } = target.tally();
    let lost = 0;
    let duplicated = 0;
    for (let i = 0; i < calls; i++) {
      const n = perCall.get(faultCallId(i)) ?? 0;
      if (n === 0) lost++;
      if (n > 1) duplicated += n - 1;
    }
    return {
      crm,
      outbox: redis ? `bullmq (appendfsync ${opts.redis!.appendfsync})` : 'file',
      instances,
      calls,
      ...tally,
      lost,
      duplicated,
      deadLetters: Math.max(...results.map((r) => Number(r.dead ?? -1))),
      killedAtTickets,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await target.close();
    await redis?.stop();
    tmp.cleanup();
  }
}

/** Waits for a delivering child to drain and exit 0; its {"drained":true} line. */
async function finished(c: ReturnType<typeof spawnChild>): Promise<Record<string, unknown>> {
  const code = await c.exited;
  if (code !== 0) throw new Error(`delivery process exited with ${code}`);
  return c.lines.find((l) => l.drained) ?? {};
}
