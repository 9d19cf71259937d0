import { Command } from 'commander';
import { commandRegistrations } from './commands.js';

/** The whole `voicebot` command tree; main.ts runs it, the CLI reference (`npm run docs`) reads it. */
export function buildProgram(): Command {
  const program = new Command()
    .name('voicebot')
    .description('Self-hosted AI phone agent')
    .version('0.1.0')
    .showHelpAfterError();
  for (const register of commandRegistrations) register(program);
  return program;
}
