import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';

/** The emulator itself must behave like FACTS §4 says, or the sink tests prove nothing. */
describe('Zendesk emulator', () => {
  let emu: ZendeskEmulator;
  let auth: string;
  beforeEach(async () => {
    emu = await startZendeskEmulator();
    auth = `Basic ${Buffer.from(`${emu.email}/token:${emu.token}`).toString('base64')}`;
  });
  afterEach(async () => emu.close());

  const create = (body: unknown, key?: string) =>
    fetch(`${emu.url}/api/v2/tickets.json`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify(body),
    });
  const ticket = { ticket: { subject: 's', comment: { body: 'b', public: false } } };

  it('rejects bad credentials with 401', async () => {
    const res = await fetch(`${emu.url}/api/v2/tickets.json`, { headers: { authorization: 'Basic eDp5' } });
    expect(res.status).toBe(401);
  });

  it('idempotency: miss, then hit with the cached ticket, then 400 for another body with the same key', async () => {
    const a = await create(ticket, 'k1');
    expect(a.status).toBe(201);
    expect(a.headers.get('x-idempotency-lookup')).toBe('miss');
    const b = await create(ticket, 'k1');
    expect(b.headers.get('x-idempotency-lookup')).toBe('hit');
    expect(((await b.json()) as { ticket: { id: number } }).ticket.id).toBe(
      ((await a.json()) as { ticket: { id: number } }).ticket.id,
    );
    const c = await create({ ticket: { ...ticket.ticket, subject: 'other' } }, 'k1');
    expect(c.status).toBe(400);
    expect(await c.json()).toMatchObject({ error: 'IdempotentRequestError' });
    expect(emu.tickets.size).toBe(1);
  });

  it('422 with RecordInvalid details for a ticket without a comment', async () => {
    const res = await create({ ticket: { subject: 'x' } });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({
      error: 'RecordInvalid',
      details: { comment: [{ error: 'InvalidValue' }] },
    });
  });

  it('429 carries Retry-After and a text body', async () => {
    emu.faults.next = [429];
    emu.faults.retryAfterSec = 7;
    const res = await create(ticket);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.text()).toBe('Too Many Requests');
  });

  it('upload tokens are single-use and attach only with a comment', async () => {
    const up = await fetch(`${emu.url}/api/v2/uploads.json?filename=call.wav`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'audio/wav' },
      body: Buffer.alloc(10),
    });
    expect(up.status).toBe(201);
    const { upload } = (await up.json()) as { upload: { token: string } };
    const made = (await (await create(ticket)).json()) as { ticket: { id: number } };
    const put = (b: unknown) =>
      fetch(`${emu.url}/api/v2/tickets/${made.ticket.id}.json`, {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(b),
      });
    expect((await put({ ticket: { comment: { body: 'rec', public: false, uploads: [upload.token] } } })).status).toBe(
      200,
    );
    expect((await put({ ticket: { comment: { body: 'again', public: false, uploads: [upload.token] } } })).status).toBe(
      422,
    );
    expect(emu.tickets.get(made.ticket.id)!.comments[1]!.attachments).toHaveLength(1);
  });

  it('a duplicate while the first request is still running gets 409', async () => {
    emu.faults.next = ['timeout'];
    emu.faults.slowMs = 300;
    const first = create(ticket, 'k2');
    await waitFor(() => emu.keyInFlight('k2'), 2000, 'first request in flight');
    const dup = await create(ticket, 'k2');
    expect(dup.status).toBe(409);
    expect((await first).status).toBe(201);
    expect(emu.tickets.size).toBe(1);
  });
});
