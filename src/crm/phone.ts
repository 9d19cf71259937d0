/** Caller numbers arrive as E.164, national digits or SIP URIs (sip:+15551234567@host). */
export function phoneDigits(phone: string): string {
  const user = /^sips?:([^@;]+)/i.exec(phone.trim())?.[1] ?? phone;
  return user.replace(/\D/g, '');
}

/** +DIGITS when the number looks like a phone number at all (7+ digits), else undefined (anonymous, extensions). */
export function e164(phone: string): string | undefined {
  const digits = phoneDigits(phone);
  return digits.length >= 7 ? `+${digits}` : undefined;
}

/** The forms a CRM may have stored the number as (HubSpot search compares the stored string exactly). */
export function phoneForms(phone: string): string[] {
  const digits = phoneDigits(phone);
  if (digits.length < 7) return [];
  const forms = new Set<string>([phone.trim(), `+${digits}`, digits]);
  if (digits.length > 10) forms.add(digits.slice(-10)); // national form without the country code
  if (digits.length === 11 && digits.startsWith('1')) {
    const n = digits.slice(1);
    forms.add(`(${n.slice(0, 3)}) ${n.slice(3, 6)}-${n.slice(6)}`);
  }
  return [...forms].filter((f) => f.length > 0);
}

/**
 * Whether a stored number is the caller's: the same digits, or the same national number with and without a country
 * code (at least 10 digits in common). A shorter stored number (an extension, a local number) is someone else.
 */
export function samePhone(stored: string, caller: string): boolean {
  const a = phoneDigits(stored);
  const b = phoneDigits(caller);
  if (a.length < 7 || b.length < 7) return false;
  if (a === b) return true;
  const [short, long] = a.length < b.length ? [a, b] : [b, a];
  return short.length >= 10 && long.endsWith(short);
}
