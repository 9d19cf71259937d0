/** The calls of the CRM fault scenario, shared by the delivering child and the counting parent. */
export const faultCallId = (i: number) => `fault-${String(i).padStart(4, '0')}`;
/** 200 distinct callers (E.164); the first 50 are already known to the CRM, stored in national format. */
export const faultCallPhone = (i: number) => `+1555${String(10_000_000 + (i % 200)).slice(1)}`;
export const knownCallerPhone = (i: number) =>
  `(555) ${String(10_000_000 + i).slice(1, 4)}-${String(10_000_000 + i).slice(4)}`;
export const KNOWN_CALLERS = 50;
/** Every third call is escalated: an escalation delivery, then the end delivery. */
export const faultCallEscalated = (i: number) => i % 3 === 0;
/** The step marker our comments and notes carry: "CALLID/event" (plus "/recording" for a recording comment). */
export const markerStep = (text: string) => /voicebot-step: (\S+)\s*$/m.exec(text)?.[1];
/** call id from the marker */
export const markerCallId = (text: string) =>
  /^(.+?)\/(?:escalation|end)(?:\/recording)?$/.exec(markerStep(text) ?? '')?.[1];
/** How many steps appear more than once in these texts (each repeat counts once). */
export function repeatedSteps(texts: string[]): number {
  const seen = new Set<string>();
  let repeats = 0;
  for (const t of texts) {
    const step = markerStep(t) ?? '';
    if (seen.has(step)) repeats++;
    seen.add(step);
  }
  return repeats;
}
