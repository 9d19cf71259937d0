import type { Command } from 'commander';
import { loadConfigOrExit, withConfigOption } from './common.js';
import { startApp, type RunningApp } from '../app.js';
import { isSetupProblem } from '../core/errors.js';
import { formatCheck, runChecks } from './doctor.js';

export function registerStartCommand(program: Command): void {
  withConfigOption(program.command('start'))
    .description('run the bot (embedded defaults: browser test call on http://localhost:3000/)')
    .action(async (opts: { config?: string }) => {
      const config = loadConfigOrExit(opts);
      // what doctor checks for this machine (programs, model files, ports), before anything loads: every problem
      // at once, each with its fix, instead of the first one as a crash half-way through start-up
      const problems = (await runChecks(config, { peers: false, downloadableModelOk: true })).filter((c) => !c.ok);
      if (problems.length > 0) {
        console.error(
          `voicebot: cannot start, ${problems.length} problem(s):\n${problems.map(formatCheck).join('\n')}`,
        );
        process.exit(2);
      }
      let app: RunningApp;
      try {
        app = await startApp(config);
      } catch (err) {
        // Start-up problems the user fixes (model files, voices): say what to do and exit 2, no stack trace.
        if (isSetupProblem(err)) {
          console.error(`voicebot: ${err.message}`);
          if (err.fix && !err.message.includes(err.fix)) console.error(`  fix: ${err.fix}`);
          process.exit(2);
        }
        throw err;
      }
      const stop = (signal: string) => {
        app.logger.info({ signal }, 'shutting down');
        // SIGTERM (orchestrators, rolling restarts) drains first: no call is cut off; SIGINT stops at once
        (signal === 'SIGTERM' ? app.drain().then(() => app.stop()) : app.stop())
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
