/**
 * X-Voicebot-* SIP headers for the agent leg, shared by every backend.
 * SIP header values must be one line of visible ASCII: we strip controls, fold non-ASCII
 * to '?', and bound each value so a long summary can never break the INVITE.
 */
export interface HeaderContext {
  callId: string;
  ticketId?: string | undefined;
  intent?: string | null | undefined;
  phone: string;
  summary: string;
}

export const MAX_SUMMARY_HEADER = 200;
export const MAX_HEADER_VALUE = 256;

export function headerSafe(value: string, max = MAX_HEADER_VALUE): string {
  const cleaned = value
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // drop combining accents left by NFKD (é → e)
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/\s{2,}/g, ' ')
    .trim();
  return cleaned.length > max ? `${cleaned.slice(0, max - 1)}…`.replace('…', '~') : cleaned;
}

export function voicebotHeaders(ctx: HeaderContext): Record<string, string> {
  const headers: Record<string, string> = {
    'X-Voicebot-Call-Id': headerSafe(ctx.callId),
    'X-Voicebot-Phone': headerSafe(ctx.phone),
    'X-Voicebot-Intent': headerSafe(ctx.intent ?? 'unknown'),
    'X-Voicebot-Summary': headerSafe(ctx.summary, MAX_SUMMARY_HEADER),
  };
  if (ctx.ticketId) headers['X-Voicebot-Ticket-Id'] = headerSafe(ctx.ticketId);
  return headers;
}
