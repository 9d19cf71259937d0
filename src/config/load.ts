import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './error.js';
import { expandEnv } from './expand.js';
import { configSchema, type Config } from './schema.js';

export const ENV_PREFIX = 'VOICEBOT_';

export { ConfigError };

export interface LoadOptions {
  /** YAML file; falls back to VOICEBOT_CONFIG. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Extra layer applied last (tests, CLI flags). */
  overrides?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** Defaults < YAML file (with `${VAR}` expanded) < VOICEBOT_* environment < overrides; validated once. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.VOICEBOT_CONFIG;
  let merged: Json = {};
  if (file) merged = deepMerge(merged, expandEnv(readYaml(file), env) as Json);
  merged = deepMerge(merged, envLayer(env));
  if (opts.overrides) merged = deepMerge(merged, opts.overrides);
  return validate(merged);
}

export function validate(input: unknown): Config {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  throw toConfigError(result.error);
}

function toConfigError(error: z.ZodError): ConfigError {
  const keys: string[] = [];
  const lines = error.issues.map((issue) => {
    let path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const unknown = issue.keys.map((k) => [...path, k].join('.'));
      keys.push(...unknown);
      return `unknown key ${unknown.map((k) => `"${k}"`).join(', ')}`;
    }
    if (path.length === 0) path = ['(root)'];
    const key = path.join('.');
    keys.push(key);
    return `${key}: ${issue.message}`;
  });
  return new ConfigError(`invalid configuration:\n  - ${lines.join('\n  - ')}`, keys);
}

function readYaml(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, ['--config']);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`, ['--config']);
  }
  if (doc == null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`config file ${file} must hold a mapping at the top level`, ['(root)']);
  }
  return doc as Json;
}

/**
 * VOICEBOT_SECTION__KEY__SUBKEY=value, `__` between levels. Each level matches a schema key
 * ignoring case and underscores (VOICEBOT_SPEECH__ASR__WHISPER_CPP__MODEL_PATH → speech.asr.whisperCpp.modelPath).
 * Values are parsed as YAML scalars/flow collections, so numbers, booleans and JSON lists work.
 */
export function envLayer(env: NodeJS.ProcessEnv): Json {
  const out: Json = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name === 'VOICEBOT_CONFIG' || raw === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split('__');
    const path = resolveEnvPath(segments);
    if (!path) {
      throw new ConfigError(`unknown environment variable ${name} (no config key matches)`, [name]);
    }
    setPath(out, path, parseEnvValue(raw));
  }
  return out;
}

const norm = (s: string) => s.replace(/[_-]/g, '').toLowerCase();

function resolveEnvPath(segments: string[]): string[] | undefined {
  const path: string[] = [];
  let node: z.ZodType | undefined = configSchema;
  for (const seg of segments) {
    const shape: Record<string, z.ZodType> | undefined = node ? objectShape(node) : undefined;
    if (shape) {
      const key: string | undefined = Object.keys(shape).find((k) => norm(k) === norm(seg));
      if (!key) return undefined;
      path.push(key);
      node = shape[key];
    } else if (node && isRecord(node)) {
      path.push(seg); // record keys (intent names, routing targets) are used as written
      node = undefined;
    } else {
      return undefined;
    }
  }
  return path;
}

/** Peel optional/default/pipe wrappers to find an object's shape (zod 4 internals, read-only). */
function objectShape(t: z.ZodType): Record<string, z.ZodType> | undefined {
  let cur: unknown = t;
  for (let i = 0; i < 10 && cur; i++) {
    const def = (cur as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return undefined;
    if (def.type === 'object') return def.shape as Record<string, z.ZodType>;
    cur = def.innerType ?? def.in ?? def.schema;
  }
  return undefined;
}

function isRecord(t: z.ZodType): boolean {
  let cur: unknown = t;
  for (let i = 0; i < 10 && cur; i++) {
    const def = (cur as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return false;
    if (def.type === 'record') return true;
    cur = def.innerType ?? def.in ?? def.schema;
  }
  return false;
}

function parseEnvValue(raw: string): unknown {
  if (raw === '') return raw;
  try {
    const v: unknown = parseYaml(raw);
    // Keep strings that YAML would turn into null or dates as the literal text.
    return v === null || v instanceof Date ? raw : v;
  } catch {
    return raw;
  }
}

function setPath(obj: Json, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Json;
  }
  cur[path[path.length - 1]!] = value;
}

export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

const isPlainObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
