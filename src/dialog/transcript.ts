import type { TranscriptEntry } from '../core/call-record.js';

export const INTERRUPTED_SUFFIX = ' … [interrupted]';

/**
 * The words of `text` a caller actually heard when `fraction` (0..1) of its audio was played.
 * Speech time is taken as proportional to characters; a word counts once it has been played to its end.
 */
export function playedPrefix(text: string, fraction: number): string {
  return splitPlayed(text, fraction).played.join(' ');
}

/** The words of `text` not yet heard when `fraction` of it was played: the rest, from the first word cut short. */
export function unplayedRest(text: string, fraction: number): string {
  const { restFrom } = splitPlayed(text, fraction);
  return text.slice(restFrom).trim();
}

function splitPlayed(text: string, fraction: number): { played: string[]; restFrom: number } {
  const f = Math.min(Math.max(fraction, 0), 1);
  const cut = f * text.length;
  const played: string[] = [];
  const re = /\S+/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index + m[0].length > cut + 0.5) return { played, restFrom: m.index };
    played.push(m[0]);
  }
  return { played, restFrom: text.length };
}

export function interruptedText(text: string, fraction: number): string {
  const prefix = playedPrefix(text, fraction);
  return prefix ? `${prefix}${INTERRUPTED_SUFFIX}` : INTERRUPTED_SUFFIX.trimStart();
}

/** The call's transcript; `onEntry` publishes each finished line (and partial bot lines as they start). */
export class Transcript {
  readonly entries: TranscriptEntry[] = [];

  readonly #clockMs: () => number;

  readonly #onEntry: (entry: TranscriptEntry, partial: boolean) => void;

  constructor(clockMs: () => number, onEntry: (entry: TranscriptEntry, partial: boolean) => void = () => {}) {
    this.#clockMs = clockMs;
    this.#onEntry = onEntry;
  }

  caller(text: string, confidence: number, atMs?: number): TranscriptEntry {
    return this.heard('caller', text, confidence, atMs);
  }

  /** A recognised line of a person on the call: the caller, or after a hand-off the agent too. */
  heard(speaker: 'caller' | 'agent', text: string, confidence: number, atMs?: number): TranscriptEntry {
    return this.#add({ speaker, text, atMs: Math.round(atMs ?? this.#clockMs()), confidence });
  }

  /** A bot line as it starts playing; finish it with `finishBot`. */
  startBot(text: string): TranscriptEntry {
    const entry: TranscriptEntry = { speaker: 'bot', text, atMs: Math.round(this.#clockMs()) };
    this.entries.push(entry);
    this.#onEntry(entry, true);
    return entry;
  }

  finishBot(entry: TranscriptEntry, interruptedAt?: number): void {
    if (interruptedAt !== undefined) {
      entry.text = interruptedText(entry.text, interruptedAt);
      entry.interrupted = true;
    }
    this.#onEntry(entry, false);
  }

  note(speaker: TranscriptEntry['speaker'], text: string): TranscriptEntry {
    return this.#add({ speaker, text, atMs: Math.round(this.#clockMs()) });
  }

  #add(entry: TranscriptEntry): TranscriptEntry {
    this.entries.push(entry);
    this.#onEntry(entry, false);
    return entry;
  }
}
