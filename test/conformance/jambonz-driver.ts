import type { CallRecord } from '../../src/core/call-record.js';
import { createMetrics } from '../../src/core/metrics.js';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps } from '../../src/dialog/scripted.js';
import { telephonyConfig } from '../../src/telephony/config.js';
import { createWebServer } from '../../src/web/server.js';
import { createJambonzBackend, registerJambonz } from '../../jambonz-adapter/src/index.js';
import type { JambonzCallLeg } from '../../jambonz-adapter/src/call-leg.js';
import { startJambonzEmulator } from '../emulators/jambonz/index.js';
import {
  speechTone,
  watchClearAudio,
  type BackendDriver,
  type CallDriver,
  type DriverOptions,
  type DriverSession,
} from './driver.js';
import { sayOnCue, waitFor } from './wait.js';

const SECRET = 'conformance-secret';

export function jambonzDriver(mode: 'webhook' | 'ws', sampleRate: 8000 | 16000 = 16000): BackendDriver {
  return {
    name: `jambonz-${mode}-${sampleRate / 1000}k`,
    agentTarget: { kind: 'sip', address: 'sip:agent@pbx.example.com' },
    async start(opts: DriverOptions): Promise<DriverSession> {
      const deps = createTestDeps(opts.deps);
      const metrics = createMetrics(false);
      const config = telephonyConfig.parse({
        backend: 'jambonz',
        jambonz: { webhookSecret: SECRET, sampleRate, reconnectGraceMs: 1000 },
      }).jambonz!;
      const backend = createJambonzBackend(config, { logger: deps.logger, metrics });
      const web = await createWebServer({ logger: deps.logger, metrics });
      await registerJambonz(web, { backend });
      const appUrl = `${await web.listen({ host: '127.0.0.1', port: 0 })}/jambonz`;
      const records = new Map<string, Promise<CallRecord>>();
      const legs = new Map<string, JambonzCallLeg>();
      const interrupted = new Map<string, () => number | null>();
      await backend.start(async (leg) => {
        legs.set(leg.id, leg as JambonzCallLeg);
        interrupted.set(leg.id, watchClearAudio(leg));
        const record = runCall(leg, deps);
        records.set(leg.id, record);
        await record;
      });
      const emu = await startJambonzEmulator({
        appUrl,
        mode,
        webhookSecret: SECRET,
        dial: () => (opts.agent === 'answer' ? 'answered' : 'busy'),
      });
      const malformedTotal = async (): Promise<number> => {
        const m = (await metrics.getMetricsAsJSON()).find((x) => x.name === 'voicebot_jambonz_malformed_frames_total');
        return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
      };

      return {
        deps,
        async startCall(wav, echo) {
          const call = await emu.placeCall({ from: '+15551230001', to: '+15550000' });
          if (echo) call.echoLine(echo);
          await waitFor(() => records.has(call.callSid), 5000, 'call core started');
          const leg = legs.get(call.callSid)!;
          await waitFor(() => leg.hasAudio || leg.ended, 5000, 'audio socket');
          const driver: CallDriver = {
            id: call.callSid,
            record: records.get(call.callSid)!,
            say: sayOnCue(deps, call.callSid, call),
            sendDtmf: (digit) => call.sendDtmf(digit),
            hangup: () => call.hangup(),
            collectBotAudio: () => ({ pcm: call.heard(), sampleRate }),
            async malformedFrame() {
              call.sendRaw(Buffer.alloc(321)); // odd byte count: not L16
            },
            droppedFrames: malformedTotal,
            agentHeaders: () => call.dialAttempts.map((d) => d.headers),
            async interrupt(path) {
              await call.sendWav(path, { speed: 1 });
              await call.sendSilence(800, { speed: 1 });
            },
            sendNoise: (pcm) => call.sendAudio(pcm, 8000, { speed: 1 }),
            interruptedAt: () => interrupted.get(call.callSid)?.() ?? null,
            heardChunks: () => call.heardChunks(),
            async speakAfterHandOff(party, ms, silenceMs = 700) {
              await call.forkReady();
              await call.speakBridged(party, speechTone(ms, sampleRate), sampleRate);
              await call.speakBridged(party, new Int16Array((sampleRate * silenceMs) / 1000), sampleRate);
            },
            botAudibleMsAfterAnswer: () => {
              if (call.bridgedAt === null) throw new Error('no agent answered');
              const after = call
                .heardChunks()
                .filter((c) => c.at > call.bridgedAt! && c.pcm.some((v) => Math.abs(v) > 500));
              // anything the app sends on the nested listen counts: jambonz would not play it, but the bot must not send
              return after.reduce((ms, c) => ms + (c.pcm.length / sampleRate) * 1000, 0) + call.forkFramesFromApp * 20;
            },
          };
          if (wav) await driver.say(wav);
          return driver;
        },
        async leftovers() {
          const s = backend.stats();
          const problems: string[] = [];
          if (s.calls) problems.push(`${s.calls} calls`);
          if (s.audioSockets) problems.push(`${s.audioSockets} audio sockets`);
          if (s.controlSockets) problems.push(`${s.controlSockets} WS API sockets`);
          if (s.running) problems.push(`${s.running} call handlers running`);
          for (const call of emu.calls) problems.push(...call.verbErrors.map((e) => `invalid verbs: ${e}`));
          for (const leg of legs.values()) {
            const held = leg.held;
            if (held.audio || held.control || held.pacer || held.timers || held.waiters) {
              problems.push(`leg ${leg.id} holds ${JSON.stringify(held)}`);
            }
          }
          return problems;
        },
        async stop() {
          await emu.close();
          await backend.stop();
          await web.close();
        },
      };
    },
  };
}
