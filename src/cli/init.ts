import type { Command } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Document, isMap, isScalar, isSeq, type Node, type Pair } from 'yaml';
import { configKeys } from '../config/keys.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { formatCheck, runChecks } from './doctor.js';

export const BACKENDS = ['browser', 'asterisk', 'jambonz'] as const;
export const CRMS = ['file', 'zendesk', 'hubspot', 'webhook'] as const;
export type Backend = (typeof BACKENDS)[number];
export type Crm = (typeof CRMS)[number];
export interface InitChoice {
  backend: Backend;
  crm: Crm;
}

/** A secret is never written: the file holds `${NAME}` and the environment supplies the value at start-up. */
const env = (name: string) => `\${${name}}`;

/** Only the keys that matter for the choice, with starting values; the schema's defaults cover everything else. */
function configFor({ backend, crm }: InitChoice): Record<string, unknown> {
  const telephony: Record<string, unknown> = { backend };
  if (backend === 'asterisk') {
    telephony.asterisk = {
      url: 'http://127.0.0.1:8088',
      username: 'voicebot',
      password: env('ARI_PASSWORD'),
      app: 'voicebot',
      rtpHost: '127.0.0.1',
      rtpBindHost: '0.0.0.0',
      rtpPortMin: 20000,
      rtpPortMax: 20999,
    };
    telephony.outboundToken = env('OUTBOUND_TOKEN');
  } else if (backend === 'jambonz') {
    telephony.jambonz = {
      webhookSecret: env('JAMBONZ_WEBHOOK_SECRET'),
      wsUsername: 'jambonz',
      wsPassword: env('JAMBONZ_WS_PASSWORD'),
      publicUrl: 'https://bot.example.com',
      sampleRate: 16000,
    };
  }
  const sink = {
    file: { type: 'file', path: 'data/tickets.jsonl' },
    zendesk: {
      type: 'zendesk',
      baseUrl: 'https://YOUR-SUBDOMAIN.zendesk.com',
      email: 'bot@example.com',
      apiToken: env('ZENDESK_API_TOKEN'),
    },
    hubspot: { type: 'hubspot', accessToken: env('HUBSPOT_TOKEN'), createContacts: true },
    webhook: { type: 'webhook', url: 'https://crm.example.com/voicebot', secret: env('CRM_WEBHOOK_SECRET') },
  }[crm];
  // loopback either way: a TLS reverse proxy on this host publishes what jambonz and agents must reach
  const web: Record<string, unknown> =
    backend === 'browser'
      ? { host: '127.0.0.1', port: 3000 }
      : { host: '127.0.0.1', port: 3000, agentConsole: { token: env('AGENT_CONSOLE_TOKEN') } };
  return {
    telephony,
    web,
    speech: { asr: { whisperCpp: { model: 'base.en' } } },
    dialog: { greeting: 'Hello, thanks for calling. How can I help you today?' },
    crm: { sinks: [sink] },
  };
}

/** The environment variables the file refers to, in order of appearance. */
export function envReferences(yaml: string): string[] {
  return [...new Set([...yaml.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1]!))];
}

/** The commented YAML `voicebot init` writes (every key's comment is its description in the schema), and the
 * environment variables it refers to. */
export function renderInitConfig(choice: InitChoice): { yaml: string; env: string[] } {
  const described = new Map(configKeys().map((k) => [k.key, k.description]));
  const doc = new Document(configFor(choice));
  const annotate = (node: Node | null, path: string): void => {
    if (isMap(node)) {
      for (const pair of node.items as Array<Pair<Node, Node>>) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        const child = path ? `${path}.${key}` : key;
        const text = described.get(child);
        if (text && isScalar(pair.key)) pair.key.commentBefore = ` ${text}`;
        annotate(pair.value, child);
      }
    } else if (isSeq(node)) {
      for (const item of node.items as Node[]) {
        const type = isMap(item) ? String(item.get('type')) : '';
        annotate(item, `${path}[type=${type}]`);
      }
    }
  };
  annotate(doc.contents, '');
  const body = doc.toString({ lineWidth: 0 });
  const vars = envReferences(body);
  const header = [
    `voicebot configuration: ${choice.backend} telephony, ${choice.crm} tickets. Written by \`voicebot init\`.`,
    'Run: voicebot start --config THIS_FILE. Only the keys that matter for this choice are here; every other key keeps',
    'its default (all keys: docs/reference/configuration.md, effective values: voicebot config print).',
    ...(vars.length > 0
      ? [
          'Secrets are never written here: each ${…} below is replaced from the environment at start-up. Set:',
          ...vars.map((v) => `  ${v}=…`),
        ]
      : []),
  ];
  return { yaml: `${header.map((l) => `# ${l}`).join('\n')}\n\n${body}`, env: vars };
}

async function ask<T extends string>(
  question: string,
  options: readonly T[],
  lines: AsyncIterator<string>,
): Promise<T> {
  for (;;) {
    process.stdout.write(`${question} (${options.join(', ')}) [${options[0]}]: `);
    const next = await lines.next();
    const answer = next.done ? '' : next.value.trim().toLowerCase();
    if (next.done) process.stdout.write('\n');
    if (answer === '') return options[0]!;
    const match = options.find((o) => o === answer);
    if (match) return match;
    if (next.done) return options[0]!;
    process.stdout.write(`  "${answer}" is not one of them\n`);
  }
}

function pick<T extends string>(value: string | undefined, options: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined;
  const match = options.find((o) => o === value);
  if (!match) throw new InitError(`--${flag} must be one of ${options.join(', ')} (got "${value}")`);
  return match;
}

class InitError extends Error {}

interface InitOptions {
  backend?: string;
  crm?: string;
  out: string;
  force?: boolean;
  yes?: boolean;
}

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description(
      'write a commented config for a telephony backend and CRM (asks for what the flags leave out), then run doctor',
    )
    .option('--backend <backend>', `telephony backend: ${BACKENDS.join(', ')}`)
    .option('--crm <crm>', `where tickets go: ${CRMS.join(', ')}`)
    .option('-o, --out <file>', 'config file to write', 'voicebot.yaml')
    .option('-f, --force', 'overwrite the file if it exists')
    .option('-y, --yes', 'take the first choice for anything the flags leave out, without asking')
    .action(async (opts: InitOptions) => {
      try {
        await init(opts);
      } catch (err) {
        if (!(err instanceof InitError)) throw err;
        console.error(`voicebot: ${err.message}`);
        process.exitCode = 2;
      }
    });
}

async function init(opts: InitOptions): Promise<void> {
  const out = resolve(opts.out);
  if (existsSync(out) && !opts.force) throw new InitError(`${out} exists; use --force to overwrite it`);
  let backend = pick(opts.backend, BACKENDS, 'backend');
  let crm = pick(opts.crm, CRMS, 'crm');
  if ((!backend || !crm) && !opts.yes) {
    const rl = createInterface({ input: process.stdin, terminal: false });
    const lines = rl[Symbol.asyncIterator]();
    try {
      backend ??= await ask('Telephony backend', BACKENDS, lines);
      crm ??= await ask('Where tickets go', CRMS, lines);
    } finally {
      rl.close();
    }
  }
  const choice: InitChoice = { backend: backend ?? BACKENDS[0], crm: crm ?? CRMS[0] };
  const { yaml, env: vars } = renderInitConfig(choice);
  writeFileSync(out, yaml, { mode: 0o600 });
  console.log(`wrote ${out} (${choice.backend} telephony, ${choice.crm} tickets)`);
  if (vars.length > 0) console.log(`set ${vars.join(', ')} in the environment before voicebot start`);
  console.log('\nvoicebot doctor:');
  try {
    const results = await runChecks(loadConfig({ file: out }));
    for (const r of results) console.log(formatCheck(r));
    const failed = results.filter((r) => !r.ok).length;
    console.log(
      failed === 0
        ? 'all checks passed'
        : `${failed} check(s) failed: fix them, then voicebot start --config ${opts.out}`,
    );
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.log(formatCheck({ name: 'config', ok: false, detail: err.message, fix: `set ${err.keys.join(', ')}` }));
  }
}
