/**
 * One bot instance for the multi-instance tests: `startApp` (the product's wiring) with CONFIG (JSON overrides),
 * spawned with tsx. Prints {"url": ...} once listening. Reads JSON lines on stdin: {"publish": CallEvent} publishes
 * on the app's event bus, as a call on this instance would; {"stop": true} stops the app and exits.
 */
import { createInterface } from 'node:readline';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { CallEvent } from '../../src/core/call-events.js';
import { createLogger } from '../../src/log/logger.js';

const overrides = JSON.parse(process.env.CONFIG ?? '{}') as Record<string, unknown>;
const config = loadConfig({ env: {}, overrides });
const app = await startApp(config, { logger: createLogger({ ...config.log, level: 'silent' }) });
process.stdout.write(`${JSON.stringify({ url: app.url })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(line) as { publish?: CallEvent; stop?: boolean };
  if (msg.publish) app.events.publish(msg.publish);
  if (msg.stop) break;
}
await app.stop();
process.exit(0);
