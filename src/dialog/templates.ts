const PLACEHOLDER = /\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g;

export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** Fills `{slot}` placeholders; unknown ones are left as they are (config errors show in the transcript). */
export function renderTemplate(template: string, slots: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => slots[name] ?? whole);
}

/** Spell digit strings out one by one so TTS reads "1234" as "1 2 3 4", not "one thousand …". */
export function speakableSlots(slots: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(slots).map(([k, v]) => [k, /^\d{4,}$/.test(v) ? v.split('').join(' ') : v]));
}

/**
 * Picks the response whose placeholders are all filled, preferring the one that uses most slots
 * ("Order {order_number} is on its way" over "What is your order number?"). Undefined if none fits.
 */
export function chooseResponse(responses: readonly string[], slots: Record<string, string>): string | undefined {
  let best: { text: string; used: number } | undefined;
  for (const text of responses) {
    const names = placeholders(text);
    if (!names.every((n) => slots[n] !== undefined)) continue;
    if (!best || names.length > best.used) best = { text, used: names.length };
  }
  return best ? renderTemplate(best.text, speakableSlots(slots)) : undefined;
}
