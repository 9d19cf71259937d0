import { createRequire } from 'node:module';

/** @jambonz/verb-specifications is CommonJS without types: load it through require with the one signature we use. */
const require = createRequire(import.meta.url);
const specs = require('@jambonz/verb-specifications') as {
  validate(logger: { info: () => void; debug: () => void; error: () => void }, verbs: unknown): void;
};
const quiet = { info: () => {}, debug: () => {}, error: () => {} };

/** Throws (with jambonz's own message) on the first invalid verb or unknown property, as jambonz does. */
export function validateVerbs(verbs: unknown): void {
  specs.validate(quiet, verbs);
}

/** `{verb:"x", ...}` or `{"x": {...}}` → [name, properties]. */
export function normalizeVerb(v: Record<string, unknown>): [string, Record<string, unknown>] {
  if (typeof v.verb === 'string') {
    const { verb, ...rest } = v;
    return [verb === 'stream' ? 'listen' : verb, rest];
  }
  const [name] = Object.keys(v);
  return [name === 'stream' ? 'listen' : (name ?? ''), (v[name ?? ''] ?? {}) as Record<string, unknown>];
}
