/**
 * How the crash test reads its results (test/helpers/crash-harness.ts); no processes here.
 *
 * Which bot lines were the greeting and the resume prompt (`botLines`, `isLine`). A line cut before its first word
 * ("… [interrupted]": the caller barged in at once, as into a loaded bot's stalled audio) keeps none of its words,
 * and every line starts with its empty prefix: read as "any line", it passed for a greeting and for a resume prompt
 * no kill explained (a greeting cut so gives the CI failure of 2026-12-05 12:40, `+15550000006: expected 1 to be +0`
 * with no kill; a resumed prompt cut so gave "expected 2 to be 1" greetings, seen under load on a call never taken
 * over).
 *
 * Which calls died with a killed process (`diedWith`): read once it has exited, by its lease as well as the stored
 * owner.
 */
import { describe, expect, it } from 'vitest';
import type { TranscriptEntry } from '../../src/core/call-record.js';
import { botLines, diedWith, GREETING, isLine, REPLY, RESUME_PROMPT } from '../helpers/crash-harness.js';

const bot = (text: string, atMs: number, interrupted = false): TranscriptEntry =>
  interrupted ? { speaker: 'bot', text, atMs, interrupted } : { speaker: 'bot', text, atMs };
const caller = (text: string, atMs: number): TranscriptEntry => ({ speaker: 'caller', text, atMs, confidence: 0.95 });
const count = (lines: string[], line: string) => lines.filter((l) => l === line).length;

describe('crash harness: which bot line was which', () => {
  it('a line cut before its first word is neither the greeting nor the resume prompt by its text', () => {
    const unheard = bot('… [interrupted]', 11_455, true);
    expect(isLine(unheard, RESUME_PROMPT)).toBe(false);
    expect(isLine(unheard, GREETING)).toBe(false);
    // cut after a word: still known by its words
    expect(isLine(bot('Hello, … [interrupted]', 0, true), GREETING)).toBe(true);
    expect(isLine(bot('Sorry about … [interrupted]', 0, true), RESUME_PROMPT)).toBe(true);
    expect(isLine(bot('Noted. … [interrupted]', 0, true), RESUME_PROMPT)).toBe(false);
  });

  it('a greeting cut before its first word, on a call no kill touched: greeted once, no resume prompt', () => {
    const transcript = [bot('… [interrupted]', 40, true), caller('caller line 7', 3_900), bot(REPLY, 5_400)];
    const lines = botLines(transcript);
    expect(lines).toEqual([GREETING, REPLY]);
    expect(count(lines, RESUME_PROMPT)).toBe(0);
  });

  it('a prompt resumed after a false interruption and cut at once (seen under load): no second greeting', () => {
    // +15550000021's record (12:49 UTC run): one process served the whole call
    const transcript = [
      bot('Hello, thanks for calling. How can … [interrupted]', 77, true),
      caller('caller line 47', 6_250),
      bot('Noted. … [interrupted]', 7_825, true),
      bot('… [interrupted]', 11_455, true),
      caller('caller line 50', 11_389),
      bot(REPLY, 13_187),
    ];
    const lines = botLines(transcript);
    expect(lines).toEqual([GREETING, 'Noted. … [interrupted]', '', REPLY]);
    expect(count(lines, GREETING)).toBe(1);
    expect(count(lines, RESUME_PROMPT)).toBe(0);
  });

  it('the first bot line after what the store held at a kill is that kill’s resume prompt, even cut at once', () => {
    const stored = [
      bot(GREETING, 10),
      caller('caller line 1', 4_000),
      bot('Noted. Please … [interrupted]', 5_500, true),
    ];
    const cutAtOnce = [
      ...stored,
      bot('… [interrupted]', 8_900, true),
      caller('caller line 2', 9_000),
      bot(REPLY, 11_000),
    ];
    expect(botLines(cutAtOnce, [stored.length])).toEqual([
      GREETING,
      'Noted. Please … [interrupted]',
      RESUME_PROMPT,
      REPLY,
    ]);
    // not after a kill: no line at all
    expect(count(botLines(cutAtOnce), RESUME_PROMPT)).toBe(0);
    // two kills, each followed by its own prompt
    const twice = [...stored, bot(RESUME_PROMPT, 8_900), caller('caller line 2', 9_500)];
    const lines = botLines([...twice, bot('… [interrupted]', 12_000, true), bot(REPLY, 14_000)], [3, twice.length]);
    expect(count(lines, RESUME_PROMPT)).toBe(2);
    expect(count(lines, GREETING)).toBe(1);
  });
});

describe('crash harness: which calls died with a killed process', () => {
  const dead = 4242;
  const live = 5151;
  const earlier = 3131; // killed in an earlier crash

  it('its own calls, and a call it was taking over (lease claimed, the store still naming the one before)', () => {
    expect(diedWith({ state: 'speaking', owner: dead, lease: dead, leaseEndsAt: 1 }, dead)).toBe(true);
    // 12:44 UTC run: the second kill came 1 ms after the killed process resumed a call the first crash left it;
    // read before the kill, the store could still name the first crash's process as the owner
    expect(diedWith({ state: 'speaking', owner: earlier, lease: dead, leaseEndsAt: 1 }, dead)).toBe(true);
    // its lease lapsed while it stalled: still its call
    expect(diedWith({ state: 'listening', owner: dead, lease: 0, leaseEndsAt: null }, dead)).toBe(true);
  });

  it('not a call another live process serves or took, one not stored yet, or one that ended', () => {
    expect(diedWith({ state: 'speaking', owner: live, lease: live, leaseEndsAt: 1 }, dead)).toBe(false);
    expect(diedWith({ state: 'speaking', owner: dead, lease: live, leaseEndsAt: 1 }, dead)).toBe(false);
    // answered, lease taken, nothing stored: the next instance starts it afresh (greeting, no resume prompt)
    expect(diedWith({ state: null, owner: 0, lease: dead, leaseEndsAt: 1 }, dead)).toBe(false);
    expect(diedWith({ state: 'ended', owner: dead, lease: dead, leaseEndsAt: 1 }, dead)).toBe(false);
  });
});
