import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { EmulatedCall, type CallInfo, type CallSettings, type DialOutcome, type ProvisionalStatus } from './call.js';
import { validateCreateCall } from './rest.js';

export { EmulatedCall } from './call.js';
export type { ChildStatus, DialAttempt, DialOutcome, ProvisionalStatus } from './call.js';
export { validateVerbs } from './validate.js';

export interface JambonzEmulatorOptions {
  /** the app's base URL including its prefix, e.g. http://127.0.0.1:PORT/jambonz */
  appUrl: string;
  mode: 'webhook' | 'ws';
  webhookSecret: string;
  signWith?: string | null;
  signatureSkewSec?: number;
  wsApiAuth?: { username: string; password: string };
  wsApiSubprotocol?: string;
  /** audio.jambonz.org (what jambonz sets) or audio.drachtio.org (mod_audio_fork's default) */
  audioSubprotocol?: string;
  /** how each dial target (and each REST create-call's `to`) answers (default: answered) */
  dial?: (target: Record<string, unknown>) => DialOutcome;
  /** the status a ring timeout leaves in the dial actionHook (default ringing) */
  ringTimeoutStatus?: ProvisionalStatus;
  ackTimeoutMs?: number;
  /** behave like a media server without mark support */
  ignoreMarks?: boolean;
  /** stream caller audio at this rate (and say so in the metadata) whatever the listen verb asked */
  streamRate?: number;
  /** the call's codec rate, which sizes the media server's pre-buffer (default 8000: a phone call over G.711) */
  codecRate?: number;
  /** run a REST API peer (POST /v1/Accounts/{sid}/Calls) with these credentials and known application sids */
  rest?: { accountSid: string; apiKey: string; applications?: string[] };
}

export interface CreateCallRequest {
  accountSid: string;
  body: Record<string, unknown>;
}

export interface JambonzEmulator {
  readonly calls: EmulatedCall[];
  /** REST API base URL when `rest` was given */
  readonly restUrl: string | undefined;
  readonly createCallRequests: CreateCallRequest[];
  /** Start a call the way jambonz would (call webhook or WS API session:new). */
  placeCall(info: CallInfo): Promise<EmulatedCall>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startJambonzEmulator(opts: JambonzEmulatorOptions): Promise<JambonzEmulator> {
  const settings: CallSettings = {
    mode: opts.mode,
    appUrl: opts.appUrl.replace(/\/$/, ''),
    webhookSecret: opts.webhookSecret,
    ...(opts.signWith !== undefined ? { signWith: opts.signWith } : {}),
    ...(opts.signatureSkewSec !== undefined ? { signatureSkewSec: opts.signatureSkewSec } : {}),
    ...(opts.wsApiAuth ? { wsApiAuth: opts.wsApiAuth } : {}),
    ...(opts.wsApiSubprotocol ? { wsApiSubprotocol: opts.wsApiSubprotocol } : {}),
    audioSubprotocol: opts.audioSubprotocol ?? 'audio.jambonz.org',
    dial: opts.dial ?? (() => 'answered'),
    ...(opts.ringTimeoutStatus ? { ringTimeoutStatus: opts.ringTimeoutStatus } : {}),
    ackTimeoutMs: opts.ackTimeoutMs ?? 5000,
    ignoreMarks: opts.ignoreMarks ?? false,
    ...(opts.streamRate ? { streamRate: opts.streamRate } : {}),
    ...(opts.codecRate ? { codecRate: opts.codecRate } : {}),
  };
  const calls: EmulatedCall[] = [];
  const createCallRequests: CreateCallRequest[] = [];

  const placeCall = async (info: CallInfo): Promise<EmulatedCall> => {
    const call = new EmulatedCall(info, settings);
    calls.push(call);
    await call.start();
    return call;
  };

  let server: Server | undefined;
  let restUrl: string | undefined;
  if (opts.rest) {
    const rest = opts.rest;
    server = createServer((req, res) => {
      void (async () => {
        const body = await readBody(req);
        const reply = (status: number, json: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
        };
        const m = /^\/v1\/Accounts\/([^/]+)\/Calls$/.exec(req.url ?? '');
        if (req.method !== 'POST' || !m) return reply(404, { msg: 'not found' });
        if (req.headers.authorization !== `Bearer ${rest.apiKey}` || m[1] !== rest.accountSid) {
          return reply(401, { msg: 'unauthorized' });
        }
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(body) as Record<string, unknown>;
        } catch {
          return reply(400, { msg: 'invalid JSON' });
        }
        const invalid = validateCreateCall(parsed, rest.applications ?? []);
        if (invalid) return reply(400, { msg: invalid });
        const to = parsed.to as { number?: string; sipUri?: string; name?: string };
        createCallRequests.push({ accountSid: m[1], body: parsed });
        const call = new EmulatedCall(
          { from: String(parsed.from), to: to.number ?? to.sipUri ?? to.name ?? '', direction: 'outbound' },
          settings,
        );
        calls.push(call);
        reply(201, { sid: call.callSid, callId: `${call.callSid}@emulator` });
        // The 201 only says the INVITE is on its way: how the callee answers comes to the status hook.
        await call.outdial(settings.dial(to as Record<string, unknown>));
      })().catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    restUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  return {
    calls,
    restUrl,
    createCallRequests,
    placeCall,
    async close() {
      for (const call of calls) call.vanish();
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}
