/**
 * Which bot audio answers a caller turn. The caller notes the arrival time of every audible frame; a reply is a
 * run of audible frames, and it *starts* at an onset: an audible frame with nothing audible in the QUIET_MS
 * before it (the same gap that tells the bench a reply has ended). A turn's answer is the first onset at or after
 * the turn's last voiced frame left the caller.
 *
 * Why onsets and not "the first audible frame after the turn": when the bot was already talking as the caller's
 * last voiced frame left (it answered a pause inside the turn, or a late reply to an earlier turn arrived), the
 * next frame of that reply arrives 0–20 ms later. Taken as the answer, it gave the impossible 5–8 ms turn
 * latencies in the report (no bot can hear the end of a turn, wait its end-of-turn silence, recognise and speak
 * in 8 ms). Such a reply is reported as an overlap, and only a new onset answers the turn.
 */

/** The bot's reply has ended (and a new one starts) after this long without an audible frame. */
export const QUIET_MS = 600;

export type ReplyMatch =
  /** `at`: the answer's first audible frame; `overlapped`: the bot was mid-reply when the turn ended */
  | { kind: 'answer'; at: number; overlapped: boolean }
  /** the bot was mid-reply when the turn ended and has not started a new reply since */
  | { kind: 'overlap'; startedBefore: number }
  | { kind: 'none' };

/** Index of the first element of the ascending `times` that is ≥ t (times.length if none). */
function firstAtOrAfter(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The reply to a turn whose last voiced frame left at `lastVoicedAt`, from the ascending arrival times of the
 * audible frames the caller heard.
 */
export function matchReply(audible: readonly number[], lastVoicedAt: number, quietMs = QUIET_MS): ReplyMatch {
  const first = firstAtOrAfter(audible, lastVoicedAt);
  if (first === audible.length) return { kind: 'none' };
  const isOnset = (j: number) => j === 0 || audible[j]! - audible[j - 1]! >= quietMs;
  const overlapped = !isOnset(first);
  for (let j = first; j < audible.length; j++) {
    if (isOnset(j)) return { kind: 'answer', at: audible[j]!, overlapped };
  }
  // every frame since the turn ended continues a reply that began before it
  let start = first - 1;
  while (start > 0 && !isOnset(start)) start--;
  return { kind: 'overlap', startedBefore: audible[start]! };
}
