import { accessSync, constants, mkdirSync, openSync, closeSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { VoicebotError } from './errors.js';

/**
 * Start-up cannot go on: a port, a directory, a file the configuration names is unusable. It names the key and
 * says what to do, so `voicebot start` prints one line and exits 2 instead of a stack trace, and the bot never runs
 * half-configured.
 */
export class StartupError extends VoicebotError {
  declare readonly fix: string;
  constructor(
    /** what is wrong */
    readonly problem: string,
    /** the config key (or path) it concerns */
    readonly key: string,
    /** what the user should do */
    fix: string,
  ) {
    super(`${key}: ${problem}: ${fix}`, { kind: 'setup', fix });
  }
}

const reason = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** The directory exists (created if missing) and this process may create files in it. */
export function assertWritableDir(dir: string, key: string): void {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { recursive: true });
    if (!statSync(abs).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(abs, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new StartupError(
      `directory ${abs} is not writable (${reason(err)})`,
      key,
      'create it and give the voicebot user write access, or point the key at a writable directory',
    );
  }
}

/** The file can be opened for appending (its directory is created if missing); nothing is written. */
export function assertAppendableFile(file: string, key: string): void {
  const abs = resolve(file);
  try {
    mkdirSync(dirname(abs), { recursive: true });
    closeSync(openSync(abs, 'a'));
  } catch (err) {
    throw new StartupError(
      `file ${abs} cannot be opened for writing (${reason(err)})`,
      key,
      'give the voicebot user write access to it (and its directory), or point the key at a writable path',
    );
  }
}

/** A listen failure in the user's terms (port in use, no permission), else the error as it was. */
export function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return new StartupError(
      `port ${port} on ${host} is already in use`,
      'web.port',
      'stop whatever listens there (or another voicebot) or choose another port',
    );
  if (code === 'EACCES')
    return new StartupError(
      `not allowed to listen on ${host}:${port}`,
      'web.port',
      'use a port above 1023 or give the process the right',
    );
  if (code === 'EADDRNOTAVAIL')
    return new StartupError(`${host} is not an address of this machine`, 'web.host', 'set web.host to a local address');
  return err;
}
