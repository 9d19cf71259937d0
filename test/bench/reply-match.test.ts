import { describe, expect, it } from 'vitest';
import { QUIET_MS, matchReply } from '../../bench/lib/reply-match.js';

/** Arrival times of `count` audible 20 ms frames from `start`. */
const reply = (start: number, count: number) => Array.from({ length: count }, (_, i) => start + i * 20);

describe('matchReply (which bot audio answers a caller turn)', () => {
  it('an onset after the turn is its answer, timed from the turn end', () => {
    const m = matchReply([...reply(0, 40), ...reply(5000, 40)], 4200);
    expect(m).toEqual({ kind: 'answer', at: 5000, overlapped: false });
  });

  it('a reply already playing when the turn ends is not its answer (the 5-8 ms samples)', () => {
    // the bot started talking 300 ms before the turn's last voiced frame: its next frame arrives 8 ms after
    const audible = reply(3908, 60);
    expect(matchReply(audible, 4200)).toEqual({ kind: 'overlap', startedBefore: 3908 });
  });

  it('after an overlapping reply, the next onset answers the turn and the overlap is flagged', () => {
    const audible = [...reply(3908, 60), ...reply(3908 + 59 * 20 + QUIET_MS + 100, 30)];
    const m = matchReply(audible, 4200);
    expect(m).toEqual({ kind: 'answer', at: 3908 + 59 * 20 + QUIET_MS + 100, overlapped: true });
  });

  it('a pause shorter than QUIET_MS inside a reply does not start a new one', () => {
    const audible = [...reply(4000, 10), ...reply(4180 + QUIET_MS - 40, 10)];
    expect(matchReply(audible, 4190)).toEqual({ kind: 'overlap', startedBefore: 4000 });
  });

  it('nothing audible after the turn is no reply, whatever came before', () => {
    expect(matchReply([], 1000)).toEqual({ kind: 'none' });
    expect(matchReply(reply(0, 10), 1000)).toEqual({ kind: 'none' });
  });

  it('a frame exactly at the turn end after silence is an onset (latency 0 is possible only as a real onset)', () => {
    expect(matchReply([100, 2000], 2000)).toEqual({ kind: 'answer', at: 2000, overlapped: false });
    expect(matchReply([2000], 2000)).toEqual({ kind: 'answer', at: 2000, overlapped: false });
  });
});
