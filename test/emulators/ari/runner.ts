/**
 * The ARI emulator alone in its own process (forked with `--import tsx`), so the Asterisk side of a multi-process
 * test never shares an event loop with the test or the bots: `remote.ts` drives it over the IPC channel.
 *
 * Requests `{id, op, ...}` are answered `{id, ok, value | error}`; what callers hear comes as events: `talk` (bot
 * audio starts / stops at a caller: above AUDIBLE_PEAK, a stop after TALK_GAP_MS without any), `ended`, `dialplan`.
 * Times are wall-clock ms (performance.timeOrigin + performance.now()), comparable with the parent's.
 */
import { StasisFailed, startAriEmulator, type Party } from './index.js';
import { peak } from './party.js';
import {
  AUDIBLE_PEAK,
  TALK_GAP_MS,
  wallNow,
  type EmulatorSnapshot,
  type RunnerEvent,
  type RunnerRequest,
} from './runner-protocol.js';

function send(ev: RunnerEvent): void {
  process.send?.(ev);
}

const emu = await startAriEmulator();
const parties = new Map<string, Party>();

/** Report when bot speech starts and stops at this caller. */
function watchTalk(party: Party): void {
  let talking = false;
  let lastAudible = 0;
  party.on('audio', (pcm, at) => {
    if (peak(pcm) <= AUDIBLE_PEAK) return;
    lastAudible = at;
    if (!talking) {
      talking = true;
      send({ type: 'talk', channelId: party.channelId, phase: 'start', at: wallNow(at) });
    }
  });
  const timer = setInterval(() => {
    if (talking && performance.now() - lastAudible > TALK_GAP_MS) {
      talking = false;
      send({ type: 'talk', channelId: party.channelId, phase: 'end', at: wallNow(lastAudible) });
    }
  }, 20);
  party.on('dialplan', (where) => send({ type: 'dialplan', channelId: party.channelId, where }));
  void party.ended.then((reason) => {
    clearInterval(timer);
    parties.delete(party.channelId);
    send({ type: 'ended', channelId: party.channelId, reason, at: wallNow() });
  });
}

function snapshot(): EmulatorSnapshot {
  return {
    channels: [...emu.channels.values()].map((c) => ({
      id: c.id,
      kind: c.kind,
      name: c.name,
      inStasis: c.inStasis,
      bridgeId: c.bridgeId,
    })),
    bridges: [...emu.bridges.values()].map((b) => ({ id: b.id, channels: [...b.channels] })),
    bridgeRequests: emu.requests
      .filter((r) => r.path.startsWith('/ari/bridges'))
      .map((r) => ({
        method: r.method,
        path: r.path,
        status: r.status,
        at: wallNow(r.at),
        ...(r.connection !== undefined ? { connection: r.connection } : {}),
      })),
    openMediaTo: emu.mediaEndpoints.filter((m) => !m.closed).map((m) => m.remote.port),
    outboundConnections: emu.outboundConnections.map((c) => ({ ...c })),
    appHangups: emu.appHangups.map((h) => ({ channelId: h.channelId, reason: h.reason })),
  };
}

async function handle(req: RunnerRequest): Promise<unknown> {
  switch (req.op) {
    case 'outbound':
      return emu.outboundWebsocket(req.cfg);
    case 'place': {
      const party = await emu.placeCall({ from: req.from });
      parties.set(party.channelId, party);
      watchTalk(party);
      return { channelId: party.channelId, channelName: party.channelName };
    }
    case 'speak': {
      const party = parties.get(req.channelId);
      if (!party) throw new Error(`no caller ${req.channelId}`);
      const startAt = wallNow();
      await party.sendWav(req.wav);
      return { startAt, endAt: wallNow() };
    }
    case 'hangup':
      return parties.get(req.channelId)?.hangup();
    case 'snapshot':
      return snapshot();
    case 'close':
      await emu.close();
      setImmediate(() => process.exit(0));
      return undefined;
  }
}

process.on('message', (req: RunnerRequest) => {
  handle(req).then(
    (value) => send({ type: 'reply', id: req.id, ok: true, value }),
    (err: unknown) =>
      send({
        type: 'reply',
        id: req.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
        ...(err instanceof StasisFailed ? { stasisFailed: true } : {}),
      }),
  );
});
// the test went away: do not outlive it
process.on('disconnect', () => void emu.close().finally(() => process.exit(0)));
send({ type: 'ready', username: emu.username, password: emu.password });
