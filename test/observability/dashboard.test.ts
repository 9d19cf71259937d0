/**
 * The Grafana dashboard (deploy/grafana/voicebot.json) against what the bot really exports: the whole app runs with the
 * Asterisk backend against the ARI emulator, takes one call, and its GET /metrics is scraped. Every metric a panel
 * query names must be one of the scraped series (PromQL parsed with Prometheus' own grammar), and the dashboard must be
 * structurally sound (unique panel ids and refIds, a 24-column grid without overlaps, the datasource variable used).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { startAriEmulator, type AriEmulator } from '../emulators/ari/index.js';
import { asteriskAppOverrides, greetedCall } from '../helpers/asterisk-app.js';
import { freePort } from '../helpers/redis.js';

interface Target {
  refId: string;
  expr: string;
  datasource: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown }> };
}

const dashboard = JSON.parse(readFileSync('deploy/grafana/voicebot.json', 'utf8')) as Dashboard;
const queries = dashboard.panels.flatMap((p) => p.targets ?? []);

/** Grafana's macros and variables, replaced by what Prometheus would get. */
const expand = (expr: string) => expr.replaceAll('$__rate_interval', '5m');

/** Metric names a PromQL expression selects (VectorSelector identifiers); throws on a syntax error. */
function metricsIn(expr: string): string[] {
  const tree = parser.parse(expand(expr));
  const names: string[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) throw new Error(`PromQL syntax error at ${cursor.from} in: ${expr}`);
    if (cursor.name === 'Identifier' && cursor.node.parent?.name === 'VectorSelector') {
      names.push(expand(expr).slice(cursor.from, cursor.to));
    }
  } while (cursor.next());
  return names;
}

/** Series names as Prometheus stores them: a histogram's _bucket/_sum/_count, a summary's _sum/_count. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

describe('Grafana dashboard', () => {
  let emu: AriEmulator;
  let app: RunningApp;
  let exported: Set<string>;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vb-dash-'));
    emu = await startAriEmulator();
    const rtpPortMin = await freePort();
    const config = loadConfig({ env: {}, overrides: asteriskAppOverrides(emu, rtpPortMin, dir) });
    app = await startApp(config, { logger: createLogger({ ...config.log, level: 'silent' }) });
    await greetedCall(app, emu, '+15551230001');
    const res = await fetch(`${app.url}/metrics`);
    exported = exportedNames(await res.text());
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await emu?.close();
  });

  it('every metric a panel queries is one the running bot exports', () => {
    expect(exported.size).toBeGreaterThan(40);
    const used = new Set(queries.flatMap((t) => metricsIn(t.expr)));
    expect(used.size).toBeGreaterThan(20);
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
    // the instance variable's label_values() names an exported metric too
    const variable = dashboard.templating.list.find((v) => v.name === 'instance')!;
    const metric = /label_values\((\w+),/.exec((variable.query as { query: string }).query)![1]!;
    expect(exported.has(metric)).toBe(true);
  });

  it('covers every stage the issue names', () => {
    const used = new Set(queries.flatMap((t) => metricsIn(t.expr)));
    for (const name of [
      'voicebot_dialog_active_calls', // calls
      'voicebot_dialog_calls_total',
      'voicebot_dialog_turns_total', // turns
      'voicebot_turn_stage_seconds_bucket', // latency per stage
      'voicebot_dialog_response_seconds_bucket',
      'voicebot_asr_queue_depth', // ASR queue
      'voicebot_crm_outbox_depth', // outbox
      'voicebot_dialog_transfers_total', // transfers by outcome
      'voicebot_rtp_stream_packets_total', // RTP loss / late / reorder
    ]) {
      expect(used, name).toContain(name);
    }
  });

  it('has a sound structure: unique ids and refIds, a 24-column grid without overlaps, the datasource variable', () => {
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'instance']);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let cx = x; cx < x + w; cx++) {
        for (let cy = y; cy < y + h; cy++) {
          expect(cells.has(`${cx},${cy}`), `${p.title} overlaps at ${cx},${cy}`).toBe(false);
          cells.add(`${cx},${cy}`);
        }
      }
      if (p.type === 'row') continue;
      expect(p.datasource?.uid).toBe('${datasource}');
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(refIds.length, p.title).toBeGreaterThan(0);
      expect(new Set(refIds).size).toBe(refIds.length);
    }
  });

  it('the checker itself rejects an unknown metric and bad PromQL', () => {
    expect(metricsIn('sum(rate(voicebot_nope_total[5m]))')).toEqual(['voicebot_nope_total']);
    expect(exported.has('voicebot_nope_total')).toBe(false);
    expect(() => metricsIn('sum(rate(voicebot_dialog_calls_total[5m])')).toThrow(/syntax error/);
  });
});
