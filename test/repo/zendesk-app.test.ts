import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const APP = join(REPO_ROOT, 'zendesk-app');
const read = (path: string) => readFileSync(join(APP, path), 'utf8');
const json = (path: string) => JSON.parse(read(path)) as Record<string, unknown>;

/** What `zcli apps:package` zips: every file of the folder but tmp/ (zendesk/zcli packages/zcli-apps). */
function packaged(dir = APP): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const rel = relative(APP, path);
    if (rel === 'tmp') return [];
    return statSync(path).isDirectory() ? packaged(path) : [rel];
  });
}

interface Parameter {
  name: string;
  type?: string;
  required?: unknown;
  secure?: unknown;
}

/**
 * The sidebar app packages the way `zcli apps:package` expects and passes the checks Zendesk runs on upload
 * (zendesk/zendesk_apps_support: validations/manifest.rb, translations.rb, secure_settings.rb).
 */
describe('zendesk-app/ packages', () => {
  const manifest = json('manifest.json') as Record<string, unknown> & {
    author: Record<string, unknown>;
    location: { support: Record<string, { url?: string }> };
    parameters: Parameter[];
    domainWhitelist: unknown;
  };

  it('manifest: ZAF v2, required keys, a ticket_sidebar location whose page is in the package', () => {
    expect(manifest.frameworkVersion).toBe('2.0');
    for (const key of ['name', 'email', 'url'] as const) expect(manifest.author[key]).toBeTypeOf('string');
    expect(new URL(String(manifest.author.url)).protocol).toBe('https:');
    expect(manifest.defaultLocale).toMatch(/^[a-z]{2}(-\w{2,3})?$/);
    expect(typeof manifest.private).toBe('boolean');
    expect(Object.keys(manifest.location)).toEqual(['support']);
    const sidebar = manifest.location.support.ticket_sidebar!;
    expect(sidebar.url).toMatch(/^assets\//);
    expect(existsSync(join(APP, sidebar.url!))).toBe(true);
    expect(Array.isArray(manifest.domainWhitelist)).toBe(true);
    expect((manifest.domainWhitelist as unknown[]).every((d) => typeof d === 'string')).toBe(true);
  });

  it('parameters: known types, unique names, the bot token secure', () => {
    const types = new Set(['text', 'password', 'checkbox', 'url', 'number', 'multiline', 'hidden', 'oauth']);
    const names = manifest.parameters.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).not.toContain('name');
    for (const p of manifest.parameters) {
      expect(types.has(p.type ?? 'text')).toBe(true);
      for (const flag of [p.required, p.secure]) if (flag !== undefined) expect(typeof flag).toBe('boolean');
      // Zendesk warns about token/key/password parameters that are not secure
      if (/token|key|pwd|password/i.test(p.name)) expect(p.secure).toBe(true);
    }
    expect(manifest.parameters.find((p) => p.name === 'botApiToken')).toMatchObject({ secure: true, required: true });
    // the app reads only settings the manifest declares, and the secure one only as a proxy placeholder
    const main = read('assets/main.js');
    for (const used of main.matchAll(/settings\.(\w+)/g)) expect(names).toContain(used[1]);
    expect(main).toContain("'Bearer {{setting.botApiToken}}'");
    expect(main).toMatch(/secure: true,\s+cors: false/);
    expect(main).not.toMatch(/settings\.botApiToken/);
  });

  it('translations: the default locale file, the app texts and a label for every parameter', () => {
    const en = json(`translations/${String(manifest.defaultLocale)}.json`) as {
      app: Record<string, unknown> & { parameters: Record<string, { label?: string }> };
    };
    for (const key of ['name', 'short_description', 'long_description', 'installation_instructions'])
      expect(en.app[key]).toBeTypeOf('string');
    for (const p of manifest.parameters) expect(en.app.parameters[p.name]?.label).toBeTypeOf('string');
  });

  it('every asset the page refers to is in the package; the only remote script is the ZAF SDK', () => {
    const html = read('assets/iframe.html');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) {
      if (/^https?:/.test(ref))
        expect(ref).toBe('https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js');
      else expect(existsSync(join(APP, 'assets', ref))).toBe(true);
    }
    const files = packaged();
    expect(files.sort()).toEqual([
      'assets/iframe.html',
      'assets/main.css',
      'assets/main.js',
      'manifest.json',
      'translations/en.json',
    ]);
    expect(files.reduce((n, f) => n + statSync(join(APP, f)).size, 0)).toBeLessThan(100_000);
  });
});
