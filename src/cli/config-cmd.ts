import type { Command } from 'commander';
import { stringify } from 'yaml';
import { loadConfigOrExit, withConfigOption } from './common.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('inspect configuration');
  withConfigOption(config.command('print'))
    .description('print the effective configuration (defaults + file + environment), secrets masked')
    .option('--json', 'print JSON instead of YAML')
    .action((opts: { config?: string; json?: boolean }) => {
      const cfg = loadConfigOrExit(opts);
      // Secret.toJSON masks every secret; round-trip through JSON so YAML sees the masks too.
      const plain: unknown = JSON.parse(JSON.stringify(cfg));
      process.stdout.write(opts.json ? `${JSON.stringify(plain, null, 2)}\n` : stringify(plain));
    });
}
