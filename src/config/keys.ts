/**
 * Every configuration key read from the zod schema: type, default, environment variable, description. The generated
 * reference (`npm run docs`) and the files `voicebot init` writes both come from here, so neither can fall behind
 * the schema; a key without a description is an error.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';
import { ENV_PREFIX } from './load.js';

/** One documented key. */
export interface KeyDoc {
  key: string;
  type: string;
  default: string;
  env: string;
  description: string;
  required: boolean;
}

type Def = Record<string, unknown> & { type: string };
const defOf = (t: unknown): Def => (t as { _zod: { def: Def } })._zod.def;
const descriptionOf = (t: unknown): string | undefined => z.globalRegistry.get(t as z.ZodType)?.description;

/** What a wrapper chain (optional, default, prefault, pipe) says about the value inside it. */
interface Peeled {
  core: unknown;
  description?: string;
  defaultValue?: unknown;
  hasDefault: boolean;
  optional: boolean;
  secret: boolean;
}

function peel(t: unknown): Peeled {
  const out: Peeled = { core: t, hasDefault: false, optional: false, secret: false };
  let cur = t;
  for (let i = 0; i < 12; i++) {
    out.description ??= descriptionOf(cur);
    const def = defOf(cur);
    if (def.type === 'optional') out.optional = true;
    else if (def.type === 'default') {
      out.hasDefault = true;
      out.defaultValue = def.defaultValue;
    } else if (def.type === 'prefault') out.hasDefault = true;
    else if (def.type === 'pipe') {
      // secret(): preprocess(string) → transform(Secret); preprocess(...) in general: the schema is `out`
      const inner = defOf(def.in);
      if (defOf(def.out).type === 'transform') {
        if (inner.type === 'pipe' && defOf(inner.out).type === 'string') out.secret = true;
        cur = inner.type === 'pipe' ? inner.out : def.in;
        continue;
      }
      cur = inner.type === 'transform' ? def.out : def.in;
      continue;
    } else break;
    cur = def.innerType;
  }
  out.core = cur;
  return out;
}

function bounds(def: Def): string {
  const parts: string[] = [];
  for (const c of (def.checks as unknown[] | undefined) ?? []) {
    const cd = defOf(c) as Def & { check?: string; value?: unknown; inclusive?: boolean; minimum?: number };
    if (cd.check === 'greater_than') parts.push(`${cd.inclusive ? '≥' : '>'} ${String(cd.value)}`);
    else if (cd.check === 'less_than') parts.push(`${cd.inclusive ? '≤' : '<'} ${String(cd.value)}`);
    else if (cd.check === 'min_length' && (cd.minimum ?? 0) > 0) parts.push('non-empty');
  }
  return parts.join(', ');
}

function typeName(t: unknown): string {
  const p = peel(t);
  if (p.secret) return 'secret';
  const def = defOf(p.core);
  switch (def.type) {
    case 'string': {
      const fmt = (def as { format?: string }).format;
      const checks = (def.checks as unknown[] | undefined) ?? [];
      const formats = checks.map((c) => (defOf(c) as { format?: string }).format);
      if (fmt === 'url' || formats.includes('url')) return 'URL';
      if (formats.includes('regex')) return 'string (pattern)';
      return 'string';
    }
    case 'number': {
      const int = ((def.checks as unknown[] | undefined) ?? []).some((c) =>
        ['safeint', 'int32'].includes((defOf(c) as { format?: string }).format ?? ''),
      );
      const b = bounds(def);
      return `${int ? 'integer' : 'number'}${b ? ` (${b})` : ''}`;
    }
    case 'boolean':
      return 'boolean';
    case 'enum':
      return Object.values(def.entries as Record<string, string>)
        .map((v) => `\`${v}\``)
        .join(' | ');
    case 'literal':
      return (def.values as unknown[]).map((v) => `\`${String(v)}\``).join(' | ');
    case 'union':
      return (def.options as unknown[]).map(typeName).join(' | ');
    case 'array': {
      const item = typeName(def.element);
      return item.includes('section') ? 'list (keys below)' : `list of ${item}`;
    }
    case 'record': {
      const value = typeName(def.valueType);
      return value.includes('section') ? 'map by name (keys below)' : `map of ${value}`;
    }
    case 'object':
      return 'section';
    default:
      return def.type;
  }
}

function formatDefault(p: Peeled): string {
  if (!p.hasDefault || p.defaultValue === undefined) return '';
  const v = p.defaultValue;
  if (typeof v === 'object' && v !== null && Object.keys(v).length === 0) return '';
  const text = JSON.stringify(v);
  return `\`${text}\``;
}

const envSegment = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

function walk(t: unknown, path: string[], envPath: string[] | null, out: KeyDoc[], missing: string[]): void {
  const p = peel(t);
  const def = defOf(p.core);
  const key = path.join('.').replace(/\.\[/g, '[');
  const kids =
    def.type === 'object'
      ? Object.entries(def.shape as Record<string, unknown>)
      : def.type === 'array' && defOf(peel(def.element).core).type === 'object'
        ? null
        : undefined;
  // sections are headings, not rows; their keys are the rows
  if (path.length > 0 && def.type !== 'object') {
    if (!p.description) missing.push(key);
    out.push({
      key,
      type: typeName(t),
      default: formatDefault(p),
      env: envPath ? ENV_PREFIX + envPath.join('__') : '',
      description: p.description ?? '',
      required: !p.optional && !p.hasDefault,
    });
  }
  if (kids) {
    for (const [k, child] of kids) walk(child, [...path, k], envPath && [...envPath, envSegment(k)], out, missing);
  } else if (def.type === 'array') {
    // list items cannot be set one by one from the environment: the whole list is one variable (YAML/JSON)
    const item = peel(def.element).core;
    const itemDef = defOf(item);
    if (itemDef.type === 'object') walk(item, [...path, '[]'], null, out, missing);
    else if (itemDef.type === 'union') {
      for (const option of itemDef.options as unknown[]) {
        const shape = defOf(option).shape as Record<string, unknown>;
        const tag = defOf(peel(shape.type).core).values as unknown[] | undefined;
        for (const [k, child] of Object.entries(shape)) {
          if (k === 'type') continue;
          walk(child, [...path, `[type=${String(tag?.[0])}]`, k], null, out, missing);
        }
      }
    }
  } else if (def.type === 'record') {
    const value = peel(def.valueType).core;
    if (defOf(value).type === 'object')
      walk(value, [...path, '<name>'], envPath && [...envPath, '<NAME>'], out, missing);
  }
}

/** Every documented key of the schema, in schema order. Throws naming the keys that have no description. */
export function configKeys(schema: z.ZodType = configSchema): KeyDoc[] {
  const out: KeyDoc[] = [];
  const missing: string[] = [];
  walk(schema, [], [], out, missing);
  if (missing.length > 0) {
    throw new Error(`config keys without a description (add .describe() in the schema): ${missing.join(', ')}`);
  }
  return out;
}

/** The top-level section names of a schema, in order. */
export function configSections(schema: z.ZodType = configSchema): string[] {
  return Object.keys(defOf(schema).shape as object);
}
