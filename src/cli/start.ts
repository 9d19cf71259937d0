import type { Command } from 'commander';
import { loadConfigOrExit, withConfigOption } from './common.js';
import { startApp } from '../app.js';

export function registerStartCommand(program: Command): void {
  withConfigOption(program.command('start'))
    .description('run the bot (embedded defaults: browser test call on http://localhost:3000/)')
    .action(async (opts: { config?: string }) => {
      const config = loadConfigOrExit(opts);
      const app = await startApp(config);
      const stop = (signal: string) => {
        app.logger.info({ signal }, 'shutting down');
        app
          .stop()
          .then(() => process.exit(0))
          .catch((err: unknown) => {
            app.logger.error({ err }, 'shutdown failed');
            process.exit(1);
          });
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}
