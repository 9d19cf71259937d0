import { ConfigError } from './error.js';

/** `${NAME}` with a shell-style variable name. `$${NAME}` is the escape for a literal `${NAME}`. */
const PLACEHOLDER = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** A string that is still an unexpanded placeholder (it came from somewhere that does not expand: env, overrides). */
export const UNEXPANDED = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/;

/**
 * Replace `${VAR}` in every string of a parsed YAML document with the environment's value. The docs show secrets
 * as `${AGENT_CONSOLE_TOKEN}`: taken literally, such a placeholder became a guessable token, so an unset
 * variable stops start-up naming both the key and the variable instead.
 */
export function expandEnv(doc: unknown, env: NodeJS.ProcessEnv, path: string[] = []): unknown {
  if (typeof doc === 'string') {
    return doc.replace(PLACEHOLDER, (_all, escape: string, name: string) => {
      if (escape) return `\${${name}}`;
      const value = env[name];
      if (value === undefined || value === '') {
        throw new ConfigError(
          `${path.join('.') || '(root)'}: environment variable ${name} is not set (the config file says \${${name}})`,
          [path.join('.') || '(root)', name],
        );
      }
      return value;
    });
  }
  if (Array.isArray(doc)) return doc.map((v, i) => expandEnv(v, env, [...path, String(i)]));
  if (doc !== null && typeof doc === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) out[k] = expandEnv(v, env, [...path, k]);
    return out;
  }
  return doc;
}
