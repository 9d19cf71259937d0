import { VoicebotError } from '../core/errors.js';

/** A configuration problem: carries the dotted key so start-up can name it. Exit code 2. */
export class ConfigError extends VoicebotError {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly keys: string[],
  ) {
    super(message, { kind: 'config' });
  }
}
