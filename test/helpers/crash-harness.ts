/**
 * Calls that survive, on loopback with real processes (issue 18), shared by test/scale/crash-takeover.test.ts and
 * bench/takeover.bench.ts:
 *
 *   - N bot instances, each `voicebot start` in its own process with its own web port and RTP range;
 *   - one redis-server (sessions, leases, BullMQ outbox);
 *   - the ARI emulator in a process of its own (test/emulators/ari/runner.ts), opening one ARI websocket per call
 *     (per_call_config, the shipped websocket_client.conf timings) through a round-robin TCP proxy: the balancer;
 *   - a scripted recogniser behind the real `openai` ASR provider (every utterance gets a line of its own);
 *   - a file CRM sink shared by every instance: one `end` line per call is the rule.
 *
 * Callers (ScriptedCall) follow a script: hear the greeting, then per turn say a real speech clip and wait for the
 * bot's answer. `BotCluster.kill()` is `kill -9`; the harness picks its moment from what it observes (a caller
 * hearing a prompt, a caller mid-turn) and the session store (which process owns the call), never from a timer.
 */
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallRecord, TranscriptEntry } from '../../src/core/call-record.js';
import { INTERRUPTED_SUFFIX } from '../../src/dialog/transcript.js';
import { pino } from 'pino';
import { RedisLeaseStore } from '../../src/session/lease.js';
import { RedisSessionStore } from '../../src/session/redis-store.js';
import type { CallSession } from '../../src/session/store.js';
import { RemoteAriEmulator, wallNow, type EmulatorSnapshot } from '../emulators/ari/remote.js';
import { clip, VAD_MODEL } from './fixtures.js';
import { startRedis, type RedisServer } from './redis.js';
import { perCallThrough, startRoundRobinProxy, type RoundRobinProxy } from './round-robin-proxy.js';
import { startScriptedAsr, type ScriptedAsr } from './scripted-asr.js';
import { VoicebotProcess } from './voicebot-process.js';
import { waitFor } from './wait.js';

/** A bot line's words as far as they were said (a line cut short by a crash or barge-in ends in the suffix). */
export function said(entry: TranscriptEntry): string {
  return entry.text.endsWith(INTERRUPTED_SUFFIX.trimStart())
    ? entry.text.slice(0, -INTERRUPTED_SUFFIX.trimStart().length).trimEnd()
    : entry.text;
}

/** A bot line cut before its first word ("… [interrupted]"): the caller heard none of it. */
export function unheard(entry: TranscriptEntry): boolean {
  return entry.speaker === 'bot' && entry.interrupted === true && said(entry) === '';
}

/**
 * `entry` is `line` (the bot's), whole or cut short after at least its first word. A line cut before its first word
 * is no line here: its text no longer says which it was (every line starts with its empty prefix); see `botLines`.
 */
export function isLine(entry: TranscriptEntry, line: string): boolean {
  return (
    entry.speaker === 'bot' &&
    (entry.text === line || (entry.interrupted === true && !unheard(entry) && line.startsWith(said(entry))))
  );
}

/**
 * The bot's lines in a call's final transcript, each as the line it was: GREETING, RESUME_PROMPT, or its own text.
 * A line cut before its first word (the caller barged in at once, e.g. into a stall of a loaded bot's audio) is told
 * by where it stands: the call's first bot line is its greeting, and the first bot line after what the store held at
 * a kill of the call's process (`resumedAt`, as `ScriptedCall.resumedAt`) is that kill's resume prompt; anywhere
 * else it is no line at all ('').
 */
export function botLines(transcript: TranscriptEntry[], resumedAt: readonly number[] = []): string[] {
  const firstBot = (from: number) => transcript.findIndex((e, i) => i >= from && e.speaker === 'bot');
  const greeting = firstBot(0);
  const resumes = new Set(resumedAt.map(firstBot));
  return transcript.flatMap((e, i) => {
    if (e.speaker !== 'bot') return [];
    if (unheard(e)) return [i === greeting ? GREETING : resumes.has(i) ? RESUME_PROMPT : ''];
    return [isLine(e, GREETING) ? GREETING : isLine(e, RESUME_PROMPT) ? RESUME_PROMPT : e.text];
  });
}

/**
 * Nothing the dead process had stored is missing from the final transcript: each stored entry is there, in order,
 * at the same call time, with the same words (a bot line it was playing may since have been marked as cut short).
 */
export function keepsStored(final: TranscriptEntry[], stored: TranscriptEntry[]): boolean {
  return stored.every((s, i) => {
    const f = final[i];
    if (!f || f.speaker !== s.speaker || f.atMs !== s.atMs) return false;
    return f.text === s.text || (f.speaker === 'bot' && s.text.startsWith(said(f)));
  });
}

/** how often the balancer polls each instance's /readyz, ms (a Kubernetes readiness probe, short) */
const HEALTH_CHECK_MS = 250;
export const GREETING = 'Hello, thanks for calling. How can I help you today?';
export const RESUME_PROMPT = 'Sorry about that. Where were we?';
/** what the bot answers every caller line with (no intents configured: the clarify prompt) */
export const REPLY = 'Noted. Please go on.';
/** the caller's turns: short real speech clips */
export const TURN_CLIPS = [
  clip('librispeech-test-clean-1089-134691-0000.wav'),
  clip('librispeech-test-clean-4507-16021-0012.wav'),
  clip('librispeech-test-clean-8455-210777-0068.wav'),
];

export interface ClusterOptions {
  instances?: number;
  /** session.leaseMs for every instance */
  leaseMs: number;
  /** session.drainTimeoutSec */
  drainTimeoutSec?: number;
  /** RTP ports per instance */
  rtpPorts?: number;
  /** the bots' log level (their output is kept for failure messages) */
  logLevel?: string;
}

/** One instance slot behind the balancer: the process serving it now, and every process it ever had. */
interface Slot {
  bot: VoicebotProcess | null;
  /** every process started in this slot, with its RTP range, its log's name and when it was killed (wall clock) */
  history: Array<{ bot: VoicebotProcess; name: string; rtpPortMin: number; rtpPortMax: number; killedAt?: number }>;
}

/** Who serves a call as the store tells it: pids of the session's owner and of the lease's holder (0: none). */
export interface Holders {
  /** the stored state (null: nothing stored yet) */
  state: string | null;
  owner: number;
  lease: number;
  /** wall-clock ms by which the lease runs out unless renewed, at the soonest (null: no lease) */
  leaseEndsAt: number | null;
}

/**
 * The process `pid` served this call when it died, as the store had it once the process had exited: the call is
 * stored (a caller the process had answered but not yet stored is started afresh, greeting and all, by the next
 * instance) and the process held its lease (it serves the call, or was taking it over: lease claimed, the store still
 * naming the process before it), or is its stored owner and nobody holds the lease (it lapsed while the process
 * stalled). Stored as its but leased to another live process: that one took it while it lived, not because of a kill.
 */
export function diedWith(h: Holders, pid: number): boolean {
  return h.state !== null && h.state !== 'ended' && (h.lease === pid || (h.owner === pid && h.lease === 0));
}

/** The pid in an instance id (`host:pid`), 0 for none. */
function pidOf(instanceId: string | null | undefined): number {
  const pid = Number((instanceId ?? '').split(':').at(-1));
  return Number.isInteger(pid) && pid > 0 ? pid : 0;
}

export class BotCluster {
  readonly slots: Slot[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'vb-crash-'));
  readonly tickets = join(this.dir, 'tickets.jsonl');
  readonly calls = new Map<string, ScriptedCall>();
  #sessions!: RedisSessionStore;
  #leases!: RedisLeaseStore;
  readonly #healthCheck: NodeJS.Timeout;
  /** every RTP range handed to a process so far, and the pick in progress */
  readonly #ranges: Array<[number, number]> = [];
  #picking: Promise<void> = Promise.resolve();

  #checking = false;

  /** One health check round (none while the last is still out): a slow answer is not a failed one. */
  async #checkHealth(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    await Promise.all(
      this.slots.map(async (s, i) => {
        const url = s.bot?.url;
        this.ready[i] = url
          ? await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
              (r) => r.status === 200,
              () => false,
            )
          : false;
      }),
    );
    this.#checking = false;
  }

  private constructor(
    readonly opts: Required<ClusterOptions>,
    readonly redis: RedisServer,
    readonly emu: RemoteAriEmulator,
    readonly asr: ScriptedAsr,
    readonly proxy: RoundRobinProxy,
    /** the proxy's target ports, by slot (replaced when a slot gets a new process) */
    readonly targets: number[],
    /** the balancer's health check: /readyz answered 200 at its last poll, by slot */
    readonly ready: boolean[],
  ) {
    this.#healthCheck = setInterval(() => void this.#checkHealth(), HEALTH_CHECK_MS);
    this.#sessions = new RedisSessionStore({
      url: redis.url,
      keyPrefix: 'voicebot:',
      ttlSeconds: 3600,
      logger: pino({ level: 'silent' }),
    });
    this.#leases = new RedisLeaseStore({ url: redis.url, keyPrefix: 'voicebot:' });
    emu.on('talk', (t) => this.calls.get(t.channelId)?.onTalk(t.phase, t.at));
    emu.on('ended', (e) => this.calls.get(e.channelId)?.onEnded(e.reason));
    emu.on('dialplan', (d) => this.calls.get(d.channelId)?.onDialplan());
  }

  static async start(options: ClusterOptions): Promise<BotCluster> {
    const opts: Required<ClusterOptions> = {
      instances: 3,
      drainTimeoutSec: 30,
      rtpPorts: 30,
      logLevel: process.env.CRASH_LOG_LEVEL ?? 'warn',
      ...options,
    };
    const redis = await startRedis();
    const emu = await RemoteAriEmulator.start();
    const asr = await startScriptedAsr();
    // a dead target until its bot is up; the balancer leaves out what its health check (/readyz) found not ready,
    // and skips a target that refuses the connection (redispatch)
    const targets = Array.from({ length: opts.instances }, () => 1);
    const ready: boolean[] = targets.map(() => false);
    const proxy = await startRoundRobinProxy(targets, { healthy: (i) => ready[i] ?? false });
    const cluster = new BotCluster(opts, redis, emu, asr, proxy, targets, ready);
    try {
      for (let i = 0; i < opts.instances; i++) cluster.slots.push({ bot: null, history: [] });
      // every start settles before a failure is reported, so close() stops every bot that did start
      const started = await Promise.allSettled(cluster.slots.map((_, i) => cluster.startBot(i)));
      for (const s of started) if (s.status === 'rejected') throw s.reason;
      // websocket_client.conf as asterisk-config/outbound ships it (500 ms reconnect interval, 4 attempts), with a
      // 1500 ms connection_timeout instead of 500: on a loaded 2-core test box an upgrade can take longer than
      // 500 ms, and four slow handshakes in a row would send a call to the dialplan fallback
      await perCallThrough(emu, proxy, { connectionTimeoutMs: 1500, reconnectIntervalMs: 500, reconnectAttempts: 4 });
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** The product's config for one instance: defaults except what the harness pins. */
  #config(rtpPortMin: number, rtpPortMax: number, slot: number): Record<string, unknown> {
    return {
      log: { level: this.opts.logLevel, format: 'json' },
      redis: { url: this.redis.url },
      session: { store: 'redis', leaseMs: this.opts.leaseMs, drainTimeoutSec: this.opts.drainTimeoutSec },
      telephony: {
        backend: 'asterisk',
        asterisk: {
          connection: 'outbound',
          username: this.emu.username,
          password: this.emu.password,
          rtpHost: '127.0.0.1',
          rtpBindHost: '127.0.0.1',
          rtpPortMin,
          rtpPortMax,
        },
      },
      speech: {
        vad: { modelPath: VAD_MODEL },
        asr: { provider: 'openai', openai: { baseUrl: this.asr.baseUrl, retries: 0 } },
      },
      // every caller line gets the same short answer, never an escalation after many unmatched lines
      dialog: { greeting: GREETING, resumePrompt: RESUME_PROMPT, clarify: REPLY, maxLowConfidenceTurns: 100_000 },
      crm: { sinks: [{ type: 'file', path: this.tickets }], outbox: { dir: join(this.dir, `outbox-${slot}`) } },
    };
  }

  /** Start a fresh process in `slot` (its own RTP range) and point the balancer at it. */
  async startBot(slot: number): Promise<VoicebotProcess> {
    // never a range another process (live or dead) was given: a live process's legs would count as a dead one's.
    // One pick at a time (bots start together), each seeing the ranges picked before it.
    const pick = this.#picking.then(() => freeUdpRange(this.opts.rtpPorts, this.#ranges));
    this.#picking = pick.then(
      (min) => void this.#ranges.push([min, min + this.opts.rtpPorts - 1]),
      () => undefined,
    );
    const rtpPortMin = await pick;
    const rtpPortMax = rtpPortMin + this.opts.rtpPorts - 1;
    const s = this.slots[slot]!;
    const name = `bot-${slot}-${s.history.length}`;
    const bot = await VoicebotProcess.start(this.#config(rtpPortMin, rtpPortMax, slot), { dir: this.dir, name });
    s.bot = bot;
    s.history.push({ bot, name, rtpPortMin, rtpPortMax });
    this.targets[slot] = bot.port;
    return bot;
  }

  /** `kill -9` the process in `slot`; returns the wall-clock time of the kill. The balancer still points at it. */
  kill(slot: number): number {
    const bot = this.slots[slot]!.bot!;
    const at = wallNow();
    bot.kill('SIGKILL');
    this.slots[slot]!.bot = null;
    this.slots[slot]!.history.find((h) => h.bot === bot)!.killedAt = at;
    return at;
  }

  /** The slot whose live process has this pid (-1: none). */
  slotOfPid(pid: number): number {
    return this.slots.findIndex((s) => s.bot?.pid === pid);
  }

  session(callId: string): Promise<CallSession | undefined> {
    return this.#sessions.get(callId);
  }

  /** The slot of the live process that owns the call in the session store (-1: none, or not a live one). */
  async ownerSlot(callId: string): Promise<number> {
    const pid = pidOf((await this.session(callId))?.owner);
    return pid > 0 ? this.slotOfPid(pid) : -1;
  }

  /** The session's owner and the lease's holder of one call, read together. */
  async holders(callId: string): Promise<Holders> {
    const asked = wallNow();
    const [session, lease, leftMs] = await Promise.all([
      this.session(callId),
      this.#leases.holder(callId),
      this.#leases.expiresInMs(callId),
    ]);
    return {
      state: session?.state ?? null,
      owner: pidOf(session?.owner),
      lease: pidOf(lease),
      leaseEndsAt: leftMs === null ? null : asked + leftMs,
    };
  }

  /** The RTP range of every process that ever ran in `slot` except the live one. */
  deadRtpRanges(): Array<[number, number]> {
    return this.slots.flatMap((s) =>
      s.history.filter((h) => h.bot !== s.bot).map((h) => [h.rtpPortMin, h.rtpPortMax] as [number, number]),
    );
  }

  /** Every `end` record the CRM sink got, by call id (exactly one each is the rule). */
  endRecords(): Map<string, CallRecord[]> {
    const out = new Map<string, CallRecord[]>();
    if (!existsSync(this.tickets)) return out;
    // a line being appended right now is not complete yet: only newline-terminated lines count
    const lines = readFileSync(this.tickets, 'utf8').split('\n').slice(0, -1);
    for (const line of lines) {
      if (!line.trim()) continue;
      const t = JSON.parse(line) as { event: string; record: CallRecord };
      if (t.event !== 'end') continue;
      out.set(t.record.callId, [...(out.get(t.record.callId) ?? []), t.record]);
    }
    return out;
  }

  /** Place a call that follows the script (`turns` clips); resolves once the bot took it. */
  async placeCall(from: string, turns: string[] = TURN_CLIPS): Promise<ScriptedCall> {
    const placedAt = wallNow();
    const { channelId } = await this.emu.placeCall(from);
    const call = new ScriptedCall(this, channelId, from, turns, placedAt);
    this.calls.set(channelId, call);
    return call;
  }

  snapshot(): Promise<EmulatorSnapshot> {
    return this.emu.snapshot();
  }

  /** Once every channel is gone (bounded): what the emulator has left (bridges, media legs should be none). */
  async released(timeoutMs = 10_000): Promise<EmulatorSnapshot> {
    await waitFor(async () => (await this.snapshot()).channels.length === 0, timeoutMs, 'every channel released');
    return this.snapshot();
  }

  /**
   * What every process logged about one call (lines naming its id) and the kills, in time order: for a failing
   * test's message (the bots log at `logLevel`; at info each state change, takeover and resume is there).
   */
  trace(callId: string): string {
    const lines: Array<{ at: number; text: string }> = [];
    for (const { bot, name, killedAt } of this.slots.flatMap((s) => s.history)) {
      const who = `${name}(${bot.pid})`;
      if (killedAt !== undefined) lines.push({ at: killedAt, text: `${who} KILLED` });
      const file = join(this.dir, `${name}.log`);
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.includes(callId)) continue;
        try {
          const {
            time,
            msg,
            level: _l,
            service: _s,
            callId: _c,
            backend: _b,
            ...rest
          } = JSON.parse(line) as Record<string, unknown>;
          lines.push({ at: Number(time), text: `${who} ${String(msg)} ${JSON.stringify(rest)}` });
        } catch {
          lines.push({ at: 0, text: `${who} ${line}` });
        }
      }
    }
    return lines
      .sort((a, b) => a.at - b.at)
      .map((l) => `${new Date(l.at).toISOString().slice(11, 23)} ${l.text}`)
      .join('\n');
  }

  /** Bot output of every process, for a failing test's message. */
  output(): string {
    return this.slots
      .flatMap((s, i) => s.history.map((h, g) => `--- bot ${i}.${g} ---\n${h.bot.output.slice(-3000)}`))
      .join('\n');
  }

  async close(): Promise<void> {
    clearInterval(this.#healthCheck);
    for (const s of this.slots) await s.bot?.stop();
    await this.proxy.close();
    await this.emu.close().catch(() => undefined);
    await this.asr.close();
    await this.#sessions.close().catch(() => undefined);
    await this.#leases.close();
    await this.redis.stop();
    // CRASH_KEEP=1 keeps the bots' configs and logs (<dir>/bot-<slot>-<n>.log) and the CRM sink for a look
    if (process.env.CRASH_KEEP === '1') console.error(`crash harness: kept ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The first port of `count` consecutive free UDP ports on loopback, below Linux's ephemeral range (32768 up) so a
 * port the OS hands out meanwhile cannot land in it: random bases, every port bound once to check.
 */
async function freeUdpRange(count: number, taken: Array<[number, number]>): Promise<number> {
  const bindable = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - count));
    // a process binds its ports only when calls come: a range handed out earlier may still look free here
    let free = taken.every(([min, max]) => base + count - 1 < min || base > max);
    for (let p = base; p < base + count && free; p++) free = await bindable(p);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free UDP ports between 20000 and 32000`);
}

/** A caller following a script; what it heard (bot speech stretches) in wall-clock ms. */
export class ScriptedCall {
  readonly talks: Array<{ start: number; end: number | null }> = [];
  /** the caller's own turn in progress (wall-clock start), null between turns */
  speakingSince: number | null = null;
  /** kills of the process that served this call, wall-clock */
  readonly kills: number[] = [];
  /**
   * per kill (as `kills`): how many transcript entries the store held for the call then; the next process's first
   * line, its resume prompt, follows them in the final transcript
   */
  readonly resumedAt: number[] = [];
  /** turns said (repeats after a takeover included) */
  turnsSaid = 0;
  /** turns said again because the bot had not heard them (a crash or hand-over in the middle) */
  repeats = 0;
  endReason: string | null = null;
  wentToDialplan = false;
  failure: string | null = null;

  constructor(
    readonly cluster: BotCluster,
    readonly channelId: string,
    readonly from: string,
    readonly turns: string[],
    readonly placedAt: number,
  ) {}

  onTalk(phase: 'start' | 'end', at: number): void {
    if (phase === 'start') this.talks.push({ start: at, end: null });
    else {
      const open = this.talks.at(-1);
      if (open && open.end === null) open.end = at;
    }
  }

  onEnded(reason: string): void {
    this.endReason = reason;
  }

  onDialplan(): void {
    this.wentToDialplan = true;
  }

  /** caller lines in the call's transcript as the session store has it: what the bot has heard so far */
  async #heardTurns(): Promise<number> {
    const transcript = ((await this.cluster.session(this.channelId))?.dialog.transcript ?? []) as TranscriptEntry[];
    return transcript.filter((e) => e.speaker === 'caller').length;
  }

  /** the bot is speaking to this caller now */
  get hearingBot(): boolean {
    return this.talks.at(-1)?.end === null;
  }

  /** The first bot speech this caller heard after `at` (wall-clock start), or null. */
  firstTalkAfter(at: number): number | null {
    return this.talks.find((t) => t.start > at)?.start ?? null;
  }

  /**
   * Wait until the bot has spoken after `after` and then been quiet for `quietMs`: the end of its answer. A kill of
   * the owner in the meantime first waits for the bot to come back (the resume prompt).
   */
  async #answered(after: number, timeoutMs: number, quietMs = 700): Promise<void> {
    await waitFor(
      () => {
        const last = this.talks.at(-1);
        const killed = this.kills.at(-1) ?? 0;
        if (!last || last.end === null || last.end <= after) return false;
        if (killed > after && last.start <= killed) return false; // still waiting for the bot to come back
        return wallNow() - last.end >= quietMs;
      },
      timeoutMs,
      `the bot's answer at ${this.from}`,
      20,
    );
  }

  /**
   * Greeting, then each turn: say the clip, wait for the answer. A turn the bot did not hear (no new caller line in
   * the stored transcript: said into a crash or a hand-over) is said again. Then hang up.
   */
  async run(opts: { answerTimeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = opts.answerTimeoutMs ?? 30_000;
    const { emu } = this.cluster;
    try {
      await this.#answered(this.placedAt, timeoutMs);
      for (let t = 0; t < this.turns.length; t++) {
        const heardBefore = await this.#heardTurns();
        this.speakingSince = wallNow();
        const spoke = await emu.speak(this.channelId, this.turns[t]!);
        this.speakingSince = null;
        this.turnsSaid++;
        await this.#answered(spoke.endAt, timeoutMs);
        // the turn never reached the bot's transcript (said into a crash or a hand-over): say it again, as a person
        // repeats what they said when the bot comes back with "where were we?"
        if ((await this.#heardTurns()) <= heardBefore) {
          this.repeats++;
          t--;
        }
        if (this.turnsSaid > this.turns.length * 3) throw new Error('too many repeated turns');
      }
    } catch (err) {
      this.failure = (err as Error).message;
    } finally {
      this.speakingSince = null;
      await emu.hangup(this.channelId).catch(() => undefined);
    }
  }
}

/** When to crash: while a caller hears a prompt (the bot speaking), or while a caller is mid-turn (the bot listening). */
export type KillMoment = 'mid-prompt' | 'mid-caller-turn';

export interface Crash {
  moment: KillMoment;
  slot: number;
  /** wall-clock ms */
  at: number;
  /** the killed process */
  pid: number;
  /** the call whose state chose the moment */
  trigger: string;
  /** every call still up, as the store had it once the killed process had exited (its calls: `affected`) */
  seen: Array<Holders & { from: string }>;
  /**
   * the calls the dead process served, each with the stored transcript at the kill, the moment its dead lease ran
   * out (no process could serve the call before: bot audio the caller hears until then is the dead process's last,
   * still on its way at the kill) and when its caller heard the bot again after that
   */
  affected: Array<{
    call: ScriptedCall;
    storedTranscript: CallRecord['transcript'];
    freeAt: number;
    recoveredAt: number | null;
  }>;
  /** once every affected caller heard the bot again: media legs and UnicastRTP channels still aimed at a dead process */
  deadLeft: { media: number[]; channels: string[] };
}

/**
 * Wait for the moment (bounded) and pick its call and the live process that owns it: mid-prompt, a caller hearing
 * the bot for 300 ms or more while the stored state says `speaking`; mid-caller-turn, a caller 600 ms or more into
 * a turn (the bot's VAD is capturing) while the stored state says `listening`.
 */
async function victim(
  cluster: BotCluster,
  calls: ScriptedCall[],
  moment: KillMoment,
  timeoutMs: number,
): Promise<{ slot: number; call: ScriptedCall }> {
  let found: { slot: number; call: ScriptedCall } | null = null;
  await waitFor(
    async () => {
      const now = wallNow();
      const candidates = calls.filter(
        (c) =>
          c.endReason === null &&
          (moment === 'mid-prompt'
            ? c.hearingBot && now - c.talks.at(-1)!.start >= 300
            : c.speakingSince !== null && now - c.speakingSince >= 600),
      );
      for (const call of candidates) {
        const session = await cluster.session(call.channelId);
        const slot = await cluster.ownerSlot(call.channelId);
        const state = moment === 'mid-prompt' ? 'speaking' : 'listening';
        if (slot >= 0 && session?.state === state) {
          found = { slot, call };
          return true;
        }
      }
      return false;
    },
    timeoutMs,
    `a call ${moment}`,
    20,
  );
  return found!;
}

/** What the emulator still has aimed at a dead process's RTP ports: open media legs, UnicastRTP channels. */
export async function deadLeft(cluster: BotCluster): Promise<{ media: number[]; channels: string[] }> {
  const dead = cluster.deadRtpRanges();
  const isDead = (port: number) => dead.some(([lo, hi]) => port >= lo && port <= hi);
  const snap = await cluster.snapshot();
  return {
    media: snap.openMediaTo.filter(isDead),
    // UnicastRTP/<external_host>-<id>: the bot's address and port
    channels: snap.channels
      .filter((c) => c.kind === 'unicastrtp' && isDead(Number(/:(\d+)-/.exec(c.name)?.[1])))
      .map((c) => c.name),
  };
}

/**
 * One round: `calls` callers follow their script; at each of `moments` the owner of a call in that state is killed
 * (-9), every call it owned is noted with its stored transcript, the slot gets a fresh process, and the next kill
 * waits until every affected caller heard the bot again (or `recoverTimeoutMs` passed). Resolves when every
 * caller has finished its script and hung up.
 */
export async function crashRound(
  cluster: BotCluster,
  opts: {
    calls: number;
    moments: KillMoment[];
    recoverTimeoutMs?: number;
    from?: number;
    turns?: string[];
    /**
     * The next kill also waits until the last killed slot's fresh process is ready at the balancer: one instance
     * down at a time, as an orchestrator restarting a crashed pod. Without it, kills that come faster than a fresh
     * process starts (seconds on a loaded box) can leave no instance alive at all: then Asterisk's reconnect
     * attempts run out and the calls go on in the dialplan, which measures a total outage, not a takeover.
     */
    oneDownAtATime?: boolean;
  },
): Promise<{ calls: ScriptedCall[]; crashes: Crash[] }> {
  const recoverTimeoutMs = opts.recoverTimeoutMs ?? 30_000;
  const calls: ScriptedCall[] = [];
  for (let i = 0; i < opts.calls; i++)
    calls.push(await cluster.placeCall(`+1555${String((opts.from ?? 0) + i).padStart(7, '0')}`, opts.turns));
  const runs = calls.map((c) => c.run());
  const crashes: Crash[] = [];
  const restarts: Array<Promise<unknown>> = [];
  let lastKilled = -1;
  for (const moment of opts.moments) {
    if (opts.oneDownAtATime && lastKilled >= 0) {
      await restarts.at(-1);
      const slot = lastKilled;
      await waitFor(() => cluster.ready[slot] === true, 30_000, `slot ${slot} ready again`, 20);
    }
    // the calls may all be past the moment (ending, or none mid-turn any more): the round has no more crashes
    const picked = await victim(cluster, calls, moment, 30_000).catch(() => null);
    if (!picked) break;
    const { slot, call } = picked;
    const dead = cluster.slots[slot]!.bot!;
    const at = cluster.kill(slot);
    // Which calls died with it is read once it has exited: nothing it wrote can land later, and nobody else writes
    // a call it held before its lease runs out (⅔ of a lease at the soonest). Its calls are those stored with it as
    // the owner or whose lease it held: a call it had just answered (stored a moment before the kill) or was taking
    // over (lease claimed, owner not yet written) is one too. (Read before the kill, those were missed, and their
    // callers' resume prompt looked like one for nothing.)
    await dead.exited;
    const up = calls.filter((c) => c.endReason === null);
    const seen = await Promise.all(up.map(async (c) => ({ from: c.from, ...(await cluster.holders(c.channelId)) })));
    const owned = up.filter((_, i) => diedWith(seen[i]!, dead.pid));
    const affected = await Promise.all(
      owned.map(async (c) => {
        const { lease, leaseEndsAt } = seen[up.indexOf(c)]!;
        return {
          call: c,
          storedTranscript: ((await cluster.session(c.channelId))?.dialog.transcript ?? []) as CallRecord['transcript'],
          freeAt: lease === dead.pid && leaseEndsAt !== null ? Math.max(at, leaseEndsAt) : at,
          recoveredAt: null as number | null,
        };
      }),
    );
    for (const a of affected) {
      a.call.kills.push(at);
      a.call.resumedAt.push(a.storedTranscript.length);
    }
    const crash: Crash = {
      moment,
      slot,
      pid: dead.pid,
      at,
      trigger: call.channelId,
      seen,
      affected,
      deadLeft: { media: [], channels: [] },
    };
    crashes.push(crash);
    restarts.push(cluster.startBot(slot));
    lastKilled = slot;
    await waitFor(
      () => affected.every((a) => a.call.firstTalkAfter(a.freeAt) !== null || a.call.endReason !== null),
      recoverTimeoutMs,
      'every affected caller hears the bot again',
    ).catch(() => undefined);
    for (const a of affected) a.recoveredAt = a.call.firstTalkAfter(a.freeAt);
    crash.deadLeft = await deadLeft(cluster);
  }
  await Promise.all(runs);
  await Promise.all(restarts);
  return { calls, crashes };
}

export interface Restart {
  slot: number;
  /** /readyz status of the draining process right after SIGTERM (503 expected) */
  readyzWhileDraining: number;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  /** SIGTERM to exit, ms */
  drainMs: number;
  /** calls the draining process owned at SIGTERM */
  owned: number;
  /** the first call the fresh process in the slot came to own (a new call or one taken over), null: none in time */
  freshTook: string | null;
}

/**
 * A rolling restart under load: `calls` callers at all times (each follows its script, then the next call takes
 * its place); each slot in turn gets SIGTERM (the CLI drains, then exits) and, once its process has exited, a fresh
 * one; the next slot waits until that fresh process has taken a call (one instance down at a time, as a rolling
 * update with readiness gates does). Resolves when every slot was restarted and every caller finished.
 */
export async function rollingRestart(
  cluster: BotCluster,
  opts: { calls: number },
): Promise<{ calls: ScriptedCall[]; restarts: Restart[]; placeFailures: string[] }> {
  const calls: ScriptedCall[] = [];
  const placeFailures: string[] = [];
  let restarting = true;
  let n = 0;
  // the balancer sees every instance ready, so the first calls spread over all of them
  await waitFor(() => cluster.ready.every(Boolean), 10_000, 'every instance ready at the balancer');
  const lane = async () => {
    while (restarting) {
      const from = `+1666${String(n++).padStart(7, '0')}`;
      try {
        const call = await cluster.placeCall(from);
        calls.push(call);
        await call.run();
      } catch (err) {
        placeFailures.push(`${from}: ${(err as Error).message}`);
      }
    }
  };
  const lanes = Array.from({ length: opts.calls }, () => lane());
  const restarts: Restart[] = [];
  try {
    // every lane has a call up before the first SIGTERM
    await waitFor(() => calls.length >= opts.calls, 30_000, 'the first calls');
    // the calls still up that the live process in `slot` owns (per the session store)
    const ownedBy = async (slot: number): Promise<string[]> => {
      const up = calls.filter((c) => c.endReason === null);
      const owners = await Promise.all(up.map((c) => cluster.ownerSlot(c.channelId)));
      return up.filter((_, i) => owners[i] === slot).map((c) => c.channelId);
    };
    for (let slot = 0; slot < cluster.slots.length; slot++) {
      const bot = cluster.slots[slot]!.bot!;
      // SIGTERM while the instance serves calls (bounded: `owned` 0 says it had none)
      await waitFor(async () => (await ownedBy(slot)).length > 0, 30_000, `calls on slot ${slot}`, 50).catch(
        () => undefined,
      );
      const owned = (await ownedBy(slot)).length;
      const t0 = performance.now();
      bot.kill('SIGTERM');
      // the first answer /readyz gives that is not 200, once the process has taken the signal (bounded)
      let readyz = 200;
      await waitFor(
        async () => {
          readyz = await fetch(`${bot.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
            (r) => r.status,
            () => 0,
          );
          return readyz !== 200;
        },
        5000,
        'readiness to drop',
        20,
      ).catch(() => undefined);
      const exit = await bot.exited;
      const drainMs = performance.now() - t0;
      cluster.slots[slot]!.bot = null;
      await cluster.startBot(slot);
      // the fresh process takes calls again: a new call, or one a draining instance let go
      let freshTook: string | null = null;
      await waitFor(
        async () => {
          freshTook = (await ownedBy(slot))[0] ?? null;
          return freshTook !== null;
        },
        60_000,
        `the fresh process in slot ${slot} taking a call`,
        50,
      ).catch(() => undefined);
      restarts.push({ slot, readyzWhileDraining: readyz, exit, drainMs, owned, freshTook });
    }
  } finally {
    restarting = false;
    await Promise.all(lanes);
  }
  return { calls, restarts, placeFailures };
}
