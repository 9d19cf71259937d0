import type { Command } from 'commander';
import { registerStartCommand } from './start.js';
import { registerConfigCommands } from './config-cmd.js';
import { registerDoctorCommand } from './doctor.js';

/** Each concern contributes its own subcommands here (one line each). */
export const commandRegistrations: Array<(program: Command) => void> = [
  registerStartCommand,
  registerConfigCommands,
  registerDoctorCommand,
];
