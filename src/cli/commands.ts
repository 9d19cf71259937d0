import type { Command } from 'commander';
import { registerStartCommand } from './start.js';
import { registerConfigCommands } from './config-cmd.js';
import { registerDoctorCommand } from './doctor.js';
import { registerInitCommand } from './init.js';
import { registerCallCommand } from '../telephony/asterisk/cli.js';
import { registerSimulateCommand } from '../dialog/simulate-cli.js';
import { registerOutboxCommands } from '../crm/cli.js';
import { registerModelsCommands } from '../speech/cli.js';
import { registerZendeskCommands } from './zendesk.js';

/** Each concern contributes its own subcommands here (one line each). */
export const commandRegistrations: Array<(program: Command) => void> = [
  registerStartCommand,
  registerConfigCommands,
  registerDoctorCommand,
  registerInitCommand,
  registerCallCommand,
  registerSimulateCommand,
  registerOutboxCommands,
  registerModelsCommands,
  registerZendeskCommands,
];
