import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';
import { startRedis, type RedisOptions, type RestartableRedis } from '../helpers/redis.js';
import { config, tempDir } from './helpers.js';

/**
 * For one describe block of BullMQ outbox tests: a real redis-server, a Zendesk emulator and a temp dir (each
 * config's spill dir), and CRM configs that use them. Call inside `describe`.
 */
export function redisCrmFixture(redisOpts: RedisOptions = {}, outbox: Record<string, unknown> = {}) {
  const tmp = tempDir('voicebot-bullmq-');
  let redis: RestartableRedis | undefined;
  let emu: ZendeskEmulator | undefined;
  beforeAll(async () => {
    redis = await startRedis(redisOpts);
    emu = await startZendeskEmulator();
  });
  afterAll(async () => {
    await emu?.close();
    await redis?.stop();
    tmp.cleanup();
  });
  const fixture = {
    tmp,
    get redis(): RestartableRedis {
      return redis!;
    },
    get emu(): ZendeskEmulator {
      return emu!;
    },
    /** keys under `prefix`, spill dir tmp/prefix; `token` overrides the right API token */
    cfg: (prefix: string, token?: string): Config =>
      config({
        redis: { url: fixture.redis.url, keyPrefix: prefix },
        crm: {
          sinks: [
            {
              type: 'zendesk',
              baseUrl: fixture.emu.url,
              email: fixture.emu.email,
              apiToken: token ?? fixture.emu.token,
            },
          ],
          outbox: { dir: join(tmp.dir, prefix), baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 4, ...outbox },
        },
      }),
  };
  return fixture;
}
