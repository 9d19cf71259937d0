import type { Command } from 'commander';
import { loadConfigOrExit, withConfigOption } from '../../cli/common.js';

interface CallOptions {
  config?: string;
  url?: string;
  token?: string;
  callerId?: string;
  ticket?: string;
  ring?: string;
}

/** `voicebot call <target>`: ask the running bot (POST /api/calls) to call someone and talk to them. */
export function registerCallCommand(program: Command): void {
  withConfigOption(program.command('call'))
    .description('call a number, endpoint (PJSIP/100) or SIP URI and run the bot on the call (needs a running bot)')
    .argument('<target>', 'E.164 number, dial string or sip: URI')
    .option('--url <url>', 'the running bot (default: http://<web.host>:<web.port>)')
    .option('--token <token>', 'bearer token (default: telephony.outboundToken / $VOICEBOT_TELEPHONY__OUTBOUND_TOKEN)')
    .option('--caller-id <number>', 'caller id to present')
    .option('--ticket <id>', 'CRM ticket this call is about (sent as X-Voicebot-Ticket-Id)')
    .option('--ring <seconds>', 'ring time')
    .action(async (target: string, opts: CallOptions) => {
      const config = loadConfigOrExit(opts);
      const host = ['0.0.0.0', '::'].includes(config.web.host) ? '127.0.0.1' : config.web.host;
      const url = opts.url ?? `http://${host}:${config.web.port}`;
      const token = opts.token ?? config.telephony.outboundToken?.reveal();
      if (!token) {
        console.error('voicebot call: no token: set telephony.outboundToken or pass --token');
        process.exit(2);
      }
      const ring = opts.ring ? Number(opts.ring) : undefined;
      const res = await fetch(new URL('/api/calls', url), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          to: target,
          ...(opts.callerId ? { callerId: opts.callerId } : {}),
          ...(opts.ticket ? { ticketId: opts.ticket } : {}),
          ...(ring ? { timeoutSec: ring } : {}),
        }),
        signal: AbortSignal.timeout(((ring ?? 60) + 20) * 1000),
      }).catch((err: unknown) => {
        console.error(
          `voicebot call: cannot reach the bot at ${url}: ${err instanceof Error ? err.message : String(err)}`,
        );
        process.exit(1);
      });
      const text = await res.text();
      if (res.status === 201) {
        const { callId } = JSON.parse(text) as { callId: string };
        console.log(`answered: call ${callId} is running`);
        return;
      }
      console.error(`voicebot call: ${res.status} ${text}`);
      process.exit(res.status === 409 ? 3 : 1);
    });
}
