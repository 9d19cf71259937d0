import type { CallRecord, CallRecordEvent } from '../core/call-record.js';

/** billing_question → Billing question */
export function humanIntent(intent: string | null): string {
  if (!intent) return 'Unknown request';
  const words = intent.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function ticketSubject(record: CallRecord): string {
  return `Phone call: ${humanIntent(record.intent)}`;
}

const SPEAKER = { caller: 'Caller', bot: 'Bot', agent: 'Agent' } as const;

export function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function transcriptText(record: CallRecord): string {
  if (record.transcript.length === 0) return '(no speech)';
  return record.transcript.map((t) => `[${clock(t.atMs)}] ${SPEAKER[t.speaker]}: ${t.text}`).join('\n');
}

export const pct = (v: number | null) => (v === null ? 'n/a' : `${Math.round(v * 100)} %`);

/** Marker that lets a retry see whether its comment already landed. */
export function stepMarker(record: CallRecord, event: CallRecordEvent): string {
  return `voicebot-step: ${record.callId}/${event}`;
}

/** The private note a person reads: what the caller wanted, how sure the bot was, what was said. */
export function noteBody(record: CallRecord, event: CallRecordEvent): string {
  const lines = [
    event === 'escalation' ? 'Call escalated to a person.' : `Call ended (${record.outcome}).`,
    '',
    `Summary: ${record.summary || '(none)'}`,
    `Intent: ${humanIntent(record.intent)}${record.intent ? ` (${record.intent})` : ''}`,
    `Confidence: intent ${pct(record.nluConfidence)}, speech recognition ${pct(record.asrConfidence)}`,
    `Caller: ${record.phone}${record.calledNumber ? ` → ${record.calledNumber}` : ''} (${record.direction}, ${record.backend})`,
    `Started: ${record.startedAt}; duration ${Math.round(record.durationMs / 1000)} s`,
  ];
  const slots = Object.entries(record.slots);
  if (slots.length > 0) lines.push(`Details: ${slots.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (record.escalation) {
    const e = record.escalation;
    lines.push(`Escalation: ${e.reason} → ${e.target} (${e.outcome})`);
  }
  lines.push('', 'Transcript:', transcriptText(record), '', stepMarker(record, event));
  return lines.join('\n');
}

/** Scalar fields a CRM custom field can be mapped to (config: customFields). */
export function recordField(record: CallRecord, field: string): string | number | boolean | null {
  if (field.startsWith('slots.')) return record.slots[field.slice(6)] ?? null;
  switch (field) {
    case 'callId':
    case 'phone':
    case 'outcome':
    case 'backend':
    case 'summary':
    case 'durationMs':
    case 'asrConfidence':
    case 'nluConfidence':
    case 'intent':
    case 'calledNumber':
    case 'direction':
      return record[field];
    case 'escalationTarget':
      return record.escalation?.target ?? null;
    case 'escalated':
      return record.escalation !== undefined;
    case 'durationSec':
      return Math.round(record.durationMs / 1000);
    default:
      return null;
  }
}
