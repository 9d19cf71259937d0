import { once } from 'node:events';
import { join } from 'node:path';
import type { RunningApp } from '../../src/app.js';
import type { AriEmulator } from '../emulators/ari/index.js';
import { STUB_WHISPER_REL } from './fixtures.js';
import { waitFor } from './wait.js';

/**
 * Config overrides for the whole app (`startApp`) on the Asterisk backend against the ARI emulator, inbound:
 * web on a free port, RTP on loopback from `rtpPortMin` (4 ports), whisper's stub model, tickets to a file in `dir`.
 */
export function asteriskAppOverrides(emu: AriEmulator, rtpPortMin: number, dir: string): Record<string, unknown> {
  return {
    web: { port: 0 },
    telephony: {
      backend: 'asterisk',
      asterisk: {
        ...emu.ariConfig(),
        rtpHost: '127.0.0.1',
        rtpBindHost: '127.0.0.1',
        rtpPortMin,
        rtpPortMax: rtpPortMin + 3,
      },
    },
    speech: { asr: { whisperCpp: { modelPath: STUB_WHISPER_REL } } },
    crm: { sinks: [{ type: 'file', path: join(dir, 'tickets.jsonl') }], outbox: { dir: join(dir, 'outbox') } },
  };
}

/** One call through the running app: placed from `from`, the greeting heard (≥ 300 ms audible), hung up, ended. */
export async function greetedCall(app: RunningApp, emu: AriEmulator, from: string): Promise<void> {
  let ended = false;
  const unsubscribe = app.events.subscribe((e) => {
    if (e.type === 'call-ended') ended = true;
  });
  try {
    const caller = await emu.placeCall({ from, to: '100' });
    while (caller.audibleMs() < 300) await once(caller, 'audio', { signal: AbortSignal.timeout(15_000) });
    caller.hangup();
    await waitFor(() => ended, 15_000, 'call-ended');
  } finally {
    unsubscribe();
  }
}
