import type { CallRecord, CallRecordEvent, TranscriptEntry } from '../core/call-record.js';
import { clock, humanIntent, pct, stepMarker } from './format.js';

/** Caller turns the recogniser was less sure of than this are marked for the agent to check against the audio. */
export const LOW_ASR_CONFIDENCE = 0.6;

export interface RecordingInfo {
  name: string;
  /** absent when the file's length cannot be read (not a WAV) */
  durationMs?: number;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Everything a caller said or a model wrote is text, never markup. */
export const esc = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const SPEAKER = { caller: 'Caller', bot: 'Bot', agent: 'Agent' } as const;
const DTMF = /^\[DTMF (.+)\]$/;
const OUTCOME: Record<string, string> = {
  'in-progress': 'in progress (handed to a person)',
  resolved: 'resolved by the bot',
  escalated: 'handed to a person',
  'transfer-failed': 'transfer to a person failed',
  abandoned: 'caller hung up before being helped',
  error: 'ended by an error',
};
const AGENT_LEG: Record<string, string> = {
  pending: 'being connected',
  answered: 'answered by an agent',
  busy: 'agent line busy',
  'no-answer': 'no agent answered',
  failed: 'transfer failed',
};

export const lengthText = (ms: number) => clock(ms).replace(/^0(\d:)/, '$1');

function row(cells: string[], tag: 'td' | 'th' = 'td'): string {
  return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
}

function transcriptRow(e: TranscriptEntry): string {
  const dtmf = e.speaker === 'caller' ? DTMF.exec(e.text) : null;
  let text = dtmf ? `<strong>Keypad: ${esc(dtmf[1]!)}</strong>` : esc(e.text);
  if (e.interrupted) text += ' <em>(cut off: the caller spoke over the bot)</em>';
  if (e.speaker === 'caller' && e.confidence !== undefined && e.confidence < LOW_ASR_CONFIDENCE) {
    text = `⚠ <em>low confidence ${pct(e.confidence)}, check the recording:</em> ${text}`;
  }
  return row([clock(e.atMs), SPEAKER[e.speaker], text]);
}

/**
 * The private comment an agent reads, as HTML: summary first; intent, confidence and outcome; the intents by turn
 * and the details captured; the escalation and what became of the agent leg; the recording's length; the
 * transcript as a table with low-confidence turns, barge-ins and keypad presses marked. Ends with the step marker
 * (plain text, so a retry finds it in the comment's text).
 */
export function noteHtml(record: CallRecord, event: CallRecordEvent, recording?: RecordingInfo): string {
  const parts: string[] = [];
  const headline = event === 'escalation' ? 'Call handed to a person' : `Call ended: ${OUTCOME[record.outcome]}`;
  parts.push(`<p><strong>${esc(headline)}.</strong> ${esc(record.summary || '(no summary)')}</p>`);

  const facts: Array<[string, string]> = [
    [
      'Intent',
      `${esc(humanIntent(record.intent))}${record.intent ? ` (${esc(record.intent)})` : ''}, confidence ${pct(record.nluConfidence)}`,
    ],
    ['Outcome', esc(OUTCOME[record.outcome] ?? record.outcome)],
    ['Speech recognition', `${pct(record.asrConfidence)} on average`],
    [
      'Caller',
      `${esc(record.phone)}${record.calledNumber ? ` → ${esc(record.calledNumber)}` : ''} (${record.direction}, ${esc(record.backend)})`,
    ],
    ['Started', `${esc(record.startedAt)}, ${lengthText(record.durationMs)} long`],
  ];
  const slots = Object.entries(record.slots);
  if (slots.length > 0)
    facts.push(['Details', slots.map(([k, v]) => `${esc(k)}: <strong>${esc(v)}</strong>`).join(', ')]);
  if (record.intents.length > 0) {
    const turns = record.intents.map(
      (t) => `${clock(t.atMs)} ${t.intent ? esc(t.intent) : '<em>not understood</em>'} (${pct(t.confidence)})`,
    );
    facts.push(['Intents by turn', turns.join(' · ')]);
  }
  if (record.escalation) {
    const e = record.escalation;
    facts.push([
      'Escalation',
      `${esc(e.reason)} at ${clock(e.atMs)} → ${esc(e.target)}: <strong>${esc(AGENT_LEG[e.outcome] ?? e.outcome)}</strong>`,
    ]);
  }
  if (recording) {
    const length = recording.durationMs !== undefined ? `, ${lengthText(recording.durationMs)}` : '';
    facts.push(['Recording', `${esc(recording.name)}${length} (attached)`]);
  }
  parts.push(`<table>${facts.map(([k, v]) => row([`<strong>${k}</strong>`, v])).join('')}</table>`);

  parts.push('<p><strong>Transcript</strong></p>');
  parts.push(
    record.transcript.length === 0
      ? '<p><em>(no speech)</em></p>'
      : `<table>${row(['Time', 'Speaker', 'Text'], 'th')}${record.transcript.map(transcriptRow).join('')}</table>`,
  );
  parts.push(`<p>${esc(stepMarker(record, event))}</p>`);
  return parts.join('\n');
}

/** The comment that carries the recording when the ticket was created before the file existed. */
export function recordingHtml(marker: string, recording: RecordingInfo): string {
  const length = recording.durationMs !== undefined ? ` (${lengthText(recording.durationMs)})` : '';
  return `<p><strong>Call recording</strong>: ${esc(recording.name)}${length}, attached.</p>\n<p>${esc(marker)}</p>`;
}
