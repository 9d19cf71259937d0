import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallRecord } from '../../src/core/call-record.js';
import { createMetrics } from '../../src/core/metrics.js';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps } from '../../src/dialog/scripted.js';
import type { CallLeg } from '../../src/telephony/port.js';
import { createAsteriskBackend } from '../../src/telephony/asterisk/backend.js';
import { startAriEmulator } from '../emulators/ari/index.js';
import type { Party } from '../emulators/ari/party.js';
import { emulatorConnection, FAST_ARI_TIMINGS } from '../asterisk/helpers.js';
import {
  speechTone,
  watchClearAudio,
  type BackendDriver,
  type CallDriver,
  type DriverOptions,
  type DriverSession,
} from './driver.js';
import { sayOnCue, waitFor } from './wait.js';

let nextPortBase = 50000 + (process.pid % 100) * 60;

const HEADER_VAR = /^PJSIP_HEADER\(add,(.+)\)$/;

export function asteriskDriver(): BackendDriver {
  return {
    name: 'asterisk-ari',
    agentTarget: { kind: 'endpoint', address: 'PJSIP/agent' },
    async start(opts: DriverOptions): Promise<DriverSession> {
      const emu = await startAriEmulator({
        endpoints: { 'PJSIP/agent': { answer: opts.agent === 'answer' ? 'answer' : 'busy', ringMs: 50 } },
      });
      const base = nextPortBase;
      nextPortBase += 20;
      const baseConfig = (opts.deps.config ?? {}) as { telephony?: Record<string, unknown> } & Record<string, unknown>;
      const deps = createTestDeps({
        ...opts.deps,
        config: {
          ...baseConfig,
          telephony: {
            ...baseConfig.telephony,
            backend: 'asterisk',
            asterisk: {
              ...emulatorConnection(emu, base, base + 19),
              ...FAST_ARI_TIMINGS,
              recording: { dir: join(mkdtempSync(join(tmpdir(), 'vb-conf-')), 'rec') },
            },
          },
        },
      });
      const legs: CallLeg[] = [];
      const agents: Party[] = [];
      emu.on('party', (party) => {
        if (party.role === 'agent') agents.push(party);
      });
      /** when Asterisk reported each dialled agent answering (Dial ANSWER) */
      const agentAnsweredAt: number[] = [];
      emu.on('event', (ev) => {
        if (ev.type === 'Dial' && ev.dialstatus === 'ANSWER') agentAnsweredAt.push(performance.now());
      });
      const records = new Map<string, Promise<CallRecord>>();
      const interrupted = new Map<string, () => number | null>();
      const backend = createAsteriskBackend(deps.config, {
        logger: deps.logger,
        metrics: createMetrics(false),
        sessions: deps.sessions,
        events: deps.events,
      });
      await backend.start(async (leg) => {
        legs.push(leg);
        interrupted.set(leg.id, watchClearAudio(leg));
        const record = runCall(leg, deps);
        records.set(leg.id, record);
        await record;
      });

      return {
        deps,
        async startCall(wav, echo) {
          const before = legs.length;
          const caller = await emu.placeCall({ from: '+15551230001', to: '100' });
          if (echo) caller.echoLine(echo);
          await waitFor(() => legs.length > before, 5000, 'call core started');
          const leg = legs[before]!;
          const agentRequests = () => emu.requestsTo('POST', /\/channels\/create$/);
          const seenAgents = agentRequests().length;
          const driver: CallDriver = {
            id: leg.id,
            record: records.get(leg.id)!,
            say: sayOnCue(deps, leg.id, caller),
            sendDtmf: (digit) => caller.dtmf(digit),
            async hangup() {
              caller.hangup();
              await caller.ended;
            },
            collectBotAudio: () => ({ pcm: caller.receivedPcm(), sampleRate: 8000 }),
            async malformedFrame() {
              // Three bytes from Asterisk's own UnicastRTP socket: the right source, so only the parser can drop it.
              const media = emu.mediaEndpoints.at(-1);
              if (!media) throw new Error('no externalMedia endpoint');
              media.sendRaw(Buffer.from([0x00, 0x01, 0x02]));
              await Promise.resolve();
            },
            async droppedFrames() {
              return backend.calls.get(leg.id)?.mediaStats?.rtp.dropped.malformed ?? 0;
            },
            async interrupt(path) {
              await caller.sendWav(path, { speed: 1 });
              await caller.sendSilence(800, { speed: 1 });
            },
            sendNoise: (pcm) => caller.sendPcm(pcm, { speed: 1 }),
            interruptedAt: () => interrupted.get(leg.id)?.() ?? null,
            heardChunks: () => [...caller.received],
            async speakAfterHandOff(party, ms, silenceMs = 700) {
              const who = party === 'caller' ? caller : agents.at(-1);
              if (!who || who.isEnded) throw new Error(`no ${party} on the call`);
              await who.sendPcm(speechTone(ms, 8000), { speed: 1 });
              await who.sendSilence(silenceMs, { speed: 1 });
            },
            botAudibleMsAfterAnswer: () => {
              const answered = agentAnsweredAt.at(-1);
              if (answered === undefined) throw new Error('no agent answered');
              return emu.mediaEndpoints.flatMap((m) => m.audibleAt.filter((at) => at > answered)).length * 20;
            },
            agentHeaders: () =>
              agentRequests()
                .slice(seenAgents)
                .map((r) => {
                  const vars = (r.body as { variables?: Record<string, string> } | undefined)?.variables ?? {};
                  const headers: Record<string, string> = {};
                  for (const [k, v] of Object.entries(vars)) {
                    const m = HEADER_VAR.exec(k);
                    if (m) headers[m[1]!] = v;
                  }
                  return headers;
                }),
          };
          if (wav) await driver.say(wav);
          return driver;
        },
        async leftovers() {
          const problems: string[] = [];
          if (backend.calls.size) problems.push(`${backend.calls.size} calls`);
          if (backend.ports.inUse) problems.push(`${backend.ports.inUse} RTP ports leased`);
          if (backend.host.router.size) problems.push(`${backend.host.router.size} channel routes`);
          if (emu.channels.size) problems.push(`emulator has ${emu.channels.size} channels`);
          if (emu.bridges.size) problems.push(`emulator has ${emu.bridges.size} bridges`);
          return problems;
        },
        async stop() {
          await backend.stop();
          await emu.close();
        },
      };
    },
  };
}
