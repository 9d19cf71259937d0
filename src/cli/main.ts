#!/usr/bin/env node
import { Command } from 'commander';
import { commandRegistrations } from './commands.js';

const program = new Command()
  .name('voicebot')
  .description('Self-hosted AI phone agent')
  .version('0.1.0')
  .showHelpAfterError();

for (const register of commandRegistrations) register(program);

await program.parseAsync(process.argv);
