/** Public entry point `voicebot/config`: secrets as config values (never logged). */
export { Secret } from './secret.js';
