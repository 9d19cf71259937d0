import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

/** Every command takes --config; the YAML file can also come from VOICEBOT_CONFIG. */
export function withConfigOption(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'YAML config file (default: $VOICEBOT_CONFIG, else embedded defaults)');
}

/** Load and validate config, or print the named keys and exit 2. */
export function loadConfigOrExit(opts: { config?: string }): Config {
  try {
    return loadConfig({ file: opts.config });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`voicebot: ${err.message}`);
      process.exit(err.exitCode);
    }
    throw err;
  }
}
