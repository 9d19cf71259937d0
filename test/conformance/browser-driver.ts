import { readFileSync } from 'node:fs';
import { resample } from '../../src/media/resampler.js';
import { WebSocket } from 'ws';
import type { CallRecord } from '../../src/core/call-record.js';
import { createMetrics } from '../../src/core/metrics.js';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps } from '../../src/dialog/scripted.js';
import { concatPcm } from '../../src/media/pcm.js';
import { Resampler } from '../../src/media/resampler.js';
import { readWavFile } from '../../src/media/wav.js';
import { registerTestCall, TEST_CALL_WS_PATH } from '../../src/telephony/browser/backend.js';
import type { CallLeg } from '../../src/telephony/port.js';
import { createWebServer } from '../../src/web/server.js';
import {
  speechTone,
  watchClearAudio,
  type BackendDriver,
  type CallDriver,
  type DriverOptions,
  type DriverSession,
} from './driver.js';
import { untilListening, waitFor } from './wait.js';
import { EchoLine } from '../emulators/echo-line.js';

const RATE = 16000;
const FRAME = RATE / 50;
/** how far ahead of now the page schedules each frame it receives: the page's own constant */
const PLAYOUT_LEAD_MS =
  1000 *
  Number(
    /const PLAYOUT_LEAD_S = ([\d.]+);/.exec(
      readFileSync(new URL('../../src/web/public/test-call/app.js', import.meta.url), 'utf8'),
    )?.[1],
  );

/**
 * The page's playout, as app.js does it: each frame it receives starts at max(now + PLAYOUT_LEAD_S, the end of the
 * one before); `clear` (barge-in) stops everything that has not started.
 */
class PagePlayout {
  #scheduled: { at: number; pcm: Int16Array }[] = [];
  #playhead = 0;

  receive(pcm: Int16Array): void {
    const at = Math.max(performance.now() + PLAYOUT_LEAD_MS, this.#playhead);
    this.#scheduled.push({ at, pcm });
    this.#playhead = at + (pcm.length / RATE) * 1000;
  }

  clear(): void {
    this.#scheduled = [];
    this.#playhead = 0;
  }

  /** The frames that have started playing by `at` (performance.now()), in order. */
  due(at: number): Int16Array[] {
    const n = this.#scheduled.findIndex((f) => f.at > at);
    return this.#scheduled.splice(0, n < 0 ? this.#scheduled.length : n).map((f) => f.pcm);
  }
}

/**
 * The browser test call as a backend: the test plays the page (16 kHz L16 over the WebSocket, JSON control
 * frames). Its simulated agent is the page itself: an answered hand-off with agentStaysSilent lets the page say
 * whose voice its audio is (`speaker`).
 */
export function browserDriver(): BackendDriver {
  return {
    name: 'browser',
    agentTarget: { kind: 'sip', address: 'sip:agent@pbx.example.com' },
    async start(opts: DriverOptions): Promise<DriverSession> {
      const deps = createTestDeps(opts.deps);
      const metrics = createMetrics(false);
      const web = await createWebServer({ logger: deps.logger, metrics });
      const backend = await registerTestCall(web, {
        logger: deps.logger,
        metrics,
        events: deps.events,
        transferOutcome: opts.agent === 'answer' ? 'answered' : 'busy',
      });
      const base = (await web.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws');
      const legs: CallLeg[] = [];
      const records = new Map<string, Promise<CallRecord>>();
      const interrupted = new Map<string, () => number | null>();
      await backend.start(async (leg) => {
        legs.push(leg);
        interrupted.set(leg.id, watchClearAudio(leg));
        const record = runCall(leg, deps);
        records.set(leg.id, record);
        await record;
      });
      const sockets = new Set<WebSocket>();

      return {
        deps,
        async startCall(wav, echo) {
          const ws = new WebSocket(`${base}${TEST_CALL_WS_PATH}`);
          sockets.add(ws);
          const messages: Array<Record<string, unknown>> = [];
          const heard: { at: number; pcm: Int16Array; afterTransfer: boolean }[] = [];
          const page = new PagePlayout();
          // The page's microphone picks up what its speaker plays (no echo cancellation: the worst case, see
          // docs/barge-in.md) and streams a 20 ms frame every 20 ms, the caller's voice mixed in.
          const line = echo
            ? new EchoLine(
                { ...echo, sampleRate: RATE },
                (frame) => ws.readyState === WebSocket.OPEN && ws.send(Buffer.from(frame.buffer)),
                (at) => page.due(at).forEach((pcm) => line!.heard(pcm)),
              )
            : null;
          let closed = false;
          ws.on('close', () => {
            closed = true;
            line?.stop();
          });
          ws.on('message', (data: Buffer, isBinary: boolean) => {
            if (!isBinary) {
              const message = JSON.parse(data.toString()) as Record<string, unknown>;
              if (message.type === 'clear') page.clear();
              return void messages.push(message);
            }
            const afterTransfer = messages.some((m) => m.type === 'transfer');
            const pcm = new Int16Array(data.length / 2);
            for (let i = 0; i < pcm.length; i++) pcm[i] = data.readInt16LE(i * 2);
            heard.push({ at: performance.now(), pcm, afterTransfer });
            page.receive(pcm);
          });
          await waitFor(() => messages.some((m) => m.type === 'ready'), 5000, 'ready');
          line?.start();
          const id = String(messages.find((m) => m.type === 'ready')!.callId);
          await waitFor(() => records.has(id), 5000, 'call core started');
          const send = async (pcm: Int16Array, speed: number) => {
            // the echoing line sends every frame in real time: the caller's audio joins it
            if (line) return line.say(pcm);
            const start = performance.now();
            for (let i = 0, n = 0; i < pcm.length && ws.readyState === WebSocket.OPEN; i += FRAME, n++) {
              const frame = new Int16Array(FRAME);
              frame.set(pcm.subarray(i, i + FRAME));
              ws.send(Buffer.from(frame.buffer));
              const wait = start + ((n + 1) * 20) / speed - performance.now();
              if (wait > 1) await new Promise((r) => setTimeout(r, wait));
            }
          };
          const wavPcm = async (path: string) => {
            const w = await readWavFile(path);
            const mono = w.channels === 1 ? w.samples : w.samples.filter((_, i) => i % w.channels === 0);
            if (w.sampleRate === RATE) return mono;
            const r = new Resampler(w.sampleRate as 8000 | 16000, RATE);
            return concatPcm([r.process(mono), r.flush()]);
          };
          const driver: CallDriver = {
            id,
            record: records.get(id)!,
            async say(path) {
              await untilListening(deps, id);
              await send(await wavPcm(path), 4);
              await send(new Int16Array((RATE * 800) / 1000), 4);
            },
            sendDtmf: (digit) => ws.send(JSON.stringify({ type: 'dtmf', digit })),
            async hangup() {
              if (!closed) ws.send(JSON.stringify({ type: 'hangup' }));
              await waitFor(() => closed, 5000, 'the call to end');
            },
            collectBotAudio: () => ({ pcm: concatPcm(heard.map((c) => c.pcm)), sampleRate: RATE }),
            async malformedFrame() {
              ws.send(Buffer.alloc(3)); // odd byte count: not L16
              await Promise.resolve();
            },
            async droppedFrames() {
              const m = await metrics.getSingleMetric('voicebot_browser_frames_dropped_total')?.get();
              return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
            },
            agentHeaders: () =>
              messages.filter((m) => m.type === 'transfer').map((m) => m.headers as Record<string, string>),
            async interrupt(path) {
              await send(await wavPcm(path), 1);
              await send(new Int16Array((RATE * 800) / 1000), 1);
            },
            sendNoise: (pcm8k) => send(resample(pcm8k, 8000, RATE), 1),
            interruptedAt: () => interrupted.get(id)?.() ?? null,
            heardChunks: () => heard.map(({ at, pcm }) => ({ at, pcm })),
            async speakAfterHandOff(party, ms, silenceMs = 700) {
              ws.send(JSON.stringify({ type: 'speaker', speaker: party }));
              await send(speechTone(ms, RATE), 1);
              await send(new Int16Array((RATE * silenceMs) / 1000), 1);
            },
            botAudibleMsAfterAnswer: () => {
              // the page learns of the answer from the `transfer` message: audio after it on the socket came later
              const answered = heard.findIndex((c) => c.afterTransfer);
              if (!messages.some((m) => m.type === 'transfer' && m.outcome === 'answered'))
                throw new Error('no agent answered');
              if (answered < 0) return 0;
              const after = heard.slice(answered).filter((c) => c.pcm.some((v) => Math.abs(v) > 500));
              return after.reduce((ms, c) => ms + (c.pcm.length / RATE) * 1000, 0);
            },
          };
          if (wav) await driver.say(wav);
          return driver;
        },
        async leftovers() {
          const problems: string[] = [];
          if (backend.activeCalls) problems.push(`${backend.activeCalls} calls`);
          return problems;
        },
        async stop() {
          for (const ws of sockets) ws.terminate();
          await backend.stop();
          await web.close();
        },
      };
    },
  };
}
