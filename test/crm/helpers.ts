import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { validate } from '../../src/config/load.js';
import type { Config, ConfigInput } from '../../src/config/schema.js';
import type { CallRecord } from '../../src/core/call-record.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { waitFor } from '../helpers/wait.js';

export { waitFor };

/** A complete CallRecord with sensible defaults. */
export function makeRecord(overrides: Partial<CallRecord> = {}): CallRecord {
  return {
    version: 1,
    callId: 'call-1',
    backend: 'simulate',
    phone: '+15551234567',
    calledNumber: '+15550000000',
    direction: 'inbound',
    startedAt: '2026-11-27T10:00:00.000Z',
    durationMs: 42_000,
    outcome: 'escalated',
    intent: 'billing_question',
    intents: [{ atMs: 2500, intent: 'billing_question', confidence: 0.83 }],
    slots: { account: '12345' },
    asrConfidence: 0.91,
    nluConfidence: 0.83,
    summary: 'Caller disputes a charge on the last invoice.',
    transcript: [
      { speaker: 'bot', text: 'Hello, how can I help?', atMs: 0 },
      { speaker: 'caller', text: 'I was charged twice on my bill.', atMs: 2500, confidence: 0.9 },
    ],
    escalation: { reason: 'intent billing_question escalates', target: 'agent', outcome: 'pending', atMs: 5000 },
    ...overrides,
  };
}

/** Logger that keeps every line (as parsed JSON) so tests can assert on log lines. */
export function captureLogger(level: 'info' | 'debug' | 'warn' = 'info'): {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
} {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ level, format: 'json', redactPhoneNumbers: false }, sink), lines };
}

export function tempDir(prefix = 'voicebot-crm-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function config(input: ConfigInput): Config {
  return validate(input);
}
