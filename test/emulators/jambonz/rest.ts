/**
 * The create-call checks of jambonz-api-server (lib/routes/api/accounts.js validateCreateCall): each failure is
 * HTTP 400 `{msg}` with the server's own message. Returns null when the request would be accepted.
 */
const SPEECH_FIELDS = [
  'speech_synthesis_vendor',
  'speech_synthesis_language',
  'speech_synthesis_voice',
  'speech_recognizer_vendor',
  'speech_recognizer_language',
] as const;

export function validateCreateCall(body: Record<string, unknown>, applications: string[]): string | null {
  if (!body.from) return 'missing from parameter';
  const toProblem = validateTo(body.to);
  if (toProblem) return toProblem;
  if (body.application_sid) {
    if (!applications.includes(String(body.application_sid))) {
      return `application_sid not found ${String(body.application_sid)}`;
    }
    // The application supplies call_hook and the speech settings.
    return null;
  }
  if (SPEECH_FIELDS.some((f) => !body[f])) {
    return `either application_sid or set of ${SPEECH_FIELDS.slice(0, 3).join(', ')}, ${SPEECH_FIELDS.slice(3).join(', ')} required`;
  }
  const hook = typeof body.call_hook === 'string' ? { url: body.call_hook } : body.call_hook;
  if (!hook) return 'either call_hook or application_sid required';
  for (const [name, value] of [
    ['call_hook', hook],
    [
      'call_status_hook',
      typeof body.call_status_hook === 'string' ? { url: body.call_status_hook } : body.call_status_hook,
    ],
  ] as const) {
    if (value === undefined) continue;
    const url = (value as { url?: unknown }).url;
    if (typeof url !== 'string') return `${name} must be string or an object containing a url property`;
    if (!/^(https?|wss?):/.test(url)) return `${name} url be an absolute url`;
  }
  return null;
}

function validateTo(to: unknown): string | null {
  const t = (to && typeof to === 'object' ? to : {}) as Record<string, unknown>;
  const ok =
    ((t.type === 'phone' || t.type === 'teams') && typeof t.number === 'string') ||
    (t.type === 'user' && typeof t.name === 'string') ||
    (t.type === 'sip' && typeof t.sipUri === 'string');
  return ok ? null : `missing or invalid to property: ${JSON.stringify(to)}`;
}
