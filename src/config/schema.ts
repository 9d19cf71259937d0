import { z } from 'zod';
import { logConfig } from '../log/config.js';
import { webConfig } from '../web/config.js';
import { mediaConfig } from '../media/config.js';
import { speechConfig } from '../speech/config.js';
import { dialogConfig } from '../dialog/config.js';
import { crmConfig } from '../crm/config.js';
import { sessionConfig } from '../session/config.js';
import { telephonyConfig } from '../telephony/config.js';
import { redisConfig } from './redis.js';
import { tracingConfig } from '../tracing/config.js';
import { isLoopbackHost } from '../web/guard.js';

/** The one schema for all configuration. Each section lives with the concern that uses it. */
export const configSchema = z
  .strictObject({
    log: logConfig.prefault({}),
    web: webConfig.prefault({}),
    telephony: telephonyConfig.prefault({}),
    media: mediaConfig.prefault({}),
    speech: speechConfig.prefault({}),
    dialog: dialogConfig.prefault({}),
    crm: crmConfig.prefault({}),
    session: sessionConfig.prefault({}),
    redis: redisConfig,
    tracing: tracingConfig.prefault({}),
  })
  .superRefine((c, ctx) => {
    const backend = c.telephony.backend;
    if (backend !== 'browser' && !c.telephony[backend]) {
      ctx.addIssue({
        code: 'custom',
        path: ['telephony', backend],
        message: `telephony.backend is "${backend}" but telephony.${backend} is not configured`,
      });
    }
    if (c.session.store === 'redis' && !c.redis) {
      ctx.addIssue({ code: 'custom', path: ['redis', 'url'], message: 'session.store is "redis": set redis.url' });
    }
    // Fail closed: an entry point that would be open to anyone who reaches the port stops start-up instead.
    const consoleCfg = c.web.agentConsole;
    if (consoleCfg.enabled && !consoleCfg.token && (!isLoopbackHost(c.web.host) || c.web.trustProxy.length > 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['web', 'agentConsole', 'token'],
        message:
          'the agent console shows live calls: set a token (or web.agentConsole.enabled: false); only a server ' +
          'bound to loopback with no proxy in front may run it without one',
      });
    }
    const api = c.web.callApi.token;
    if (api && consoleCfg.token && api.reveal() === consoleCfg.token.reveal()) {
      ctx.addIssue({
        code: 'custom',
        path: ['web', 'callApi', 'token'],
        message: 'must differ from web.agentConsole.token: the read-only token must not open the agent console',
      });
    }
    const j = c.telephony.backend === 'jambonz' ? c.telephony.jambonz : undefined;
    if (j && (!j.wsUsername || !j.wsPassword) && !j.insecureAllowUnauthenticatedWsApi) {
      ctx.addIssue({
        code: 'custom',
        path: ['telephony', 'jambonz', j.wsUsername ? 'wsPassword' : 'wsUsername'],
        message:
          'the jambonz WebSocket API starts calls: set wsUsername and wsPassword (the same in the jambonz ' +
          'application), or insecureAllowUnauthenticatedWsApi: true for local development only',
      });
    }
    if (j && !j.publicUrl && !c.web.publicUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['telephony', 'jambonz', 'publicUrl'],
        message: 'jambonz needs the URL it reaches this bot at (or set web.publicUrl)',
      });
    }
    const a = c.telephony.asterisk;
    if (a && a.rtpPortMin > a.rtpPortMax) {
      ctx.addIssue({ code: 'custom', path: ['telephony', 'asterisk', 'rtpPortMin'], message: 'must be <= rtpPortMax' });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
