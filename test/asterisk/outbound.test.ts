import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Secret } from '../../src/config/secret.js';
import { registerOutboundRoutes } from '../../src/telephony/outbound/routes.js';
import { OutboundService, parseTarget } from '../../src/telephony/outbound/service.js';
import type { CallLeg } from '../../src/telephony/port.js';
import { startAriEmulator, type AriEmulator, type Party } from '../emulators/ari/index.js';
import { assertReleased, startTestBackend, tone, waitFor, type TestBackend } from './helpers.js';

const run = promisify(execFile);

describe('outbound calls', () => {
  let emu: AriEmulator | null = null;
  let t: TestBackend | null = null;
  let web: FastifyInstance | null = null;
  afterEach(async () => {
    await web?.close();
    web = null;
    await t?.backend.stop();
    t = null;
    await emu?.close();
    emu = null;
  });

  async function setup() {
    const emulator = await startAriEmulator({
      endpoints: {
        'PJSIP/+15550009999@trunk': { answer: 'answer', ringMs: 30 },
        'PJSIP/+15550008888@trunk': { answer: 'busy', ringMs: 30 },
      },
    });
    emu = emulator;
    const legs: CallLeg[] = [];
    const callees: Party[] = [];
    emulator.on('party', (p) => callees.push(p));
    t = await startTestBackend(
      emulator,
      async (leg) => {
        legs.push(leg);
        const ended = new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
        leg.sendAudio(tone(200));
        await ended;
      },
      { asterisk: { outboundCallerId: '+15550000000' } },
    );
    const service = new OutboundService(t.backend, { logger: pino({ level: 'silent' }), ringSec: 10 });
    web = Fastify();
    registerOutboundRoutes(web, { service, token: new Secret('s3cret-token'), ringSec: 10 });
    await web.listen({ host: '127.0.0.1', port: 0 });
    const addr = web.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return { legs, callees, service, url, emulator };
  }

  it('parses targets', () => {
    expect(parseTarget('+1 (555) 000-1234', 30)).toEqual({ kind: 'phone', address: '+15550001234', timeoutSec: 30 });
    expect(parseTarget('PJSIP/100', 30).kind).toBe('endpoint');
    expect(parseTarget('sip:bob@example.com', 30).kind).toBe('sip');
    expect(() => parseTarget('bad target!', 30)).toThrow(/cannot call/);
  });

  it('POST /api/calls: bearer auth, then calls, runs the bot on the answered call', async () => {
    const { legs, callees, url, emulator } = await setup();
    const post = (token: string | null, body: unknown) =>
      fetch(`${url}/api/calls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    expect((await post(null, { to: '+15550009999' })).status).toBe(401);
    expect((await post('wrong', { to: '+15550009999' })).status).toBe(401);
    expect((await post('s3cret-token', { nope: 1 })).status).toBe(400);
    const res = await post('s3cret-token', { to: '+15550009999', ticketId: 'T-42' });
    expect(res.status).toBe(201);
    const { callId } = (await res.json()) as { callId: string };
    await waitFor(() => legs.length === 1, 3000, 'bot on the call');
    expect(legs[0]!.id).toBe(callId);
    expect(legs[0]!.direction).toBe('outbound');
    expect(legs[0]!.to).toBe('+15550009999');
    const create = emulator.requestsTo('POST', /\/channels\/create$/)[0]!;
    expect(create.query).toMatchObject({ endpoint: 'PJSIP/+15550009999@trunk' });
    expect(create.body).toEqual({
      variables: {
        'PJSIP_HEADER(add,X-Voicebot-Ticket-Id)': 'T-42',
        'CONNECTEDLINE(num)': '+15550000000',
        'CALLERID(num)': '+15550000000',
      },
    });
    expect(callees[0]!.invite?.from).toBe('<sip:+15550000000@asterisk>');
    await waitFor(() => callees[0]!.audibleMs() >= 200, 3000, 'callee hears the bot');
    callees[0]!.hangup();
    await waitFor(() => assertReleased(t!, emulator).length === 0, 3000, 'release');

    const busy = await post('s3cret-token', { to: '+15550008888' });
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({ outcome: 'busy' });
    await waitFor(() => assertReleased(t!, emulator).length === 0, 3000, 'release after busy');
  });

  it('requestCallback({phone, ticketId}) places a call the bot runs on', async () => {
    const { legs, service, callees } = await setup();
    const id = await service.requestCallback({ phone: '+15550009999', ticketId: '77' });
    await waitFor(() => legs.some((l) => l.id === id), 3000, 'callback call');
    callees[0]!.hangup();
  });

  it('CLI: voicebot call <number> posts to the running bot', async () => {
    const { url, callees } = await setup();
    const { stdout } = await run(
      'npx',
      ['tsx', 'src/cli/main.ts', 'call', '+15550009999', '--url', url, '--token', 's3cret-token', '--ticket', '9'],
      { timeout: 30_000, env: { ...process.env, VOICEBOT_CONFIG: '' } },
    );
    expect(stdout).toMatch(/answered: call vb-out-/);
    callees[0]!.hangup();
    const fail = await run('npx', ['tsx', 'src/cli/main.ts', 'call', '+15550009999', '--url', url, '--token', 'nope'], {
      timeout: 30_000,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((fail as { code: number }).code).toBe(1);
    expect((fail as { stderr: string }).stderr).toMatch(/401/);
  });
});
