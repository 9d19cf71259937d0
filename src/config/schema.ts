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
    const a = c.telephony.asterisk;
    if (a && a.rtpPortMin > a.rtpPortMax) {
      ctx.addIssue({ code: 'custom', path: ['telephony', 'asterisk', 'rtpPortMin'], message: 'must be <= rtpPortMax' });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
