import type { TransferTarget, TelephonyConfig } from 'voicebot/telephony';
import { deadline, httpErrorKind, VoicebotError } from 'voicebot/core';
import { dialTarget } from './verbs.js';

type JambonzConfig = NonNullable<TelephonyConfig['jambonz']>;

export class JambonzRestError extends VoicebotError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message, { kind: httpErrorKind(status) });
  }
}

/**
 * jambonz-api-server answers 400 to a create-call that names call_hook instead of an application unless all five
 * speech settings are present (accounts.js validateCreateCall). The bot does its own speech, so jambonz never uses
 * them: any valid vendor names do.
 */
export const CALL_HOOK_SPEECH_SETTINGS = {
  speech_synthesis_vendor: 'google',
  speech_synthesis_language: 'en-US',
  speech_synthesis_voice: 'en-US-Standard-C',
  speech_recognizer_vendor: 'google',
  speech_recognizer_language: 'en-US',
} as const;

export interface CreateCallOptions {
  fetch: typeof fetch;
  callerId?: string | undefined;
  /** our webhook base (…/jambonz) when no application_sid is configured */
  callHookUrl?: string | undefined;
  signal?: AbortSignal;
}

/**
 * Place an outbound call (callback) with jambonz's REST API: POST /v1/Accounts/{accountSid}/Calls.
 * When it is answered jambonz runs our application (call webhook / WS API) with direction "outbound".
 */
export async function createCall(
  config: JambonzConfig,
  target: TransferTarget,
  opts: CreateCallOptions,
): Promise<string> {
  const { apiBaseUrl, accountSid, apiKey } = config;
  if (!apiBaseUrl || !accountSid || !apiKey) {
    throw new JambonzRestError('outbound calls need telephony.jambonz.apiBaseUrl, accountSid and apiKey');
  }
  if (!opts.callerId) throw new JambonzRestError('outbound calls need a caller id (telephony.jambonz.callerId)');
  const app = config.applicationSid
    ? { application_sid: config.applicationSid }
    : opts.callHookUrl
      ? {
          call_hook: { url: `${opts.callHookUrl}/call`, method: 'POST' },
          call_status_hook: { url: `${opts.callHookUrl}/status`, method: 'POST' },
          ...CALL_HOOK_SPEECH_SETTINGS,
        }
      : null;
  if (!app) throw new JambonzRestError('outbound calls need telephony.jambonz.applicationSid or publicUrl');
  const body = {
    ...app,
    from: opts.callerId,
    to: dialTarget({ target, headers: {} }, config.trunk),
    timeout: target.timeoutSec,
  };
  const url = `${apiBaseUrl.replace(/\/$/, '')}/v1/Accounts/${encodeURIComponent(accountSid)}/Calls`;
  const limit = deadline(config.requestTimeoutMs, opts.signal);
  let res: Response;
  let text: string;
  try {
    res = await opts.fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey.reveal()}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: limit.signal,
    });
    text = await res.text();
  } finally {
    limit.dispose();
  }
  if (res.status !== 201 && res.status !== 200) {
    throw new JambonzRestError(`jambonz create call failed: HTTP ${res.status} ${text.slice(0, 200)}`, res.status);
  }
  let sid: unknown;
  try {
    sid = (JSON.parse(text) as { sid?: unknown }).sid;
  } catch {
    sid = undefined;
  }
  if (typeof sid !== 'string' || sid === '') throw new JambonzRestError('jambonz create call: reply has no sid');
  return sid;
}

/**
 * Give up on an outbound call that has not been answered: PUT /v1/Accounts/{accountSid}/Calls/{sid} with
 * `call_status: "no-answer"`, which the feature server turns into a CANCEL of the INVITE (call-session.js
 * _lccCallStatus); without it a callee answering after we gave up would still get the bot.
 */
export async function cancelCall(config: JambonzConfig, sid: string, opts: { fetch: typeof fetch }): Promise<void> {
  const { apiBaseUrl, accountSid, apiKey } = config;
  if (!apiBaseUrl || !accountSid || !apiKey) return;
  const url = `${apiBaseUrl.replace(/\/$/, '')}/v1/Accounts/${encodeURIComponent(accountSid)}/Calls/${encodeURIComponent(sid)}`;
  const limit = deadline(config.requestTimeoutMs);
  try {
    const res = await opts.fetch(url, {
      method: 'PUT',
      headers: { authorization: `Bearer ${apiKey.reveal()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ call_status: 'no-answer' }),
      signal: limit.signal,
    });
    await res.text();
    if (!res.ok) throw new JambonzRestError(`jambonz cancel call failed: HTTP ${res.status}`, res.status);
  } finally {
    limit.dispose();
  }
}
