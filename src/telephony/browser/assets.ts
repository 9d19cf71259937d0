import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export interface Asset {
  body: Buffer;
  contentType: string;
}

/** The page's plain files, served from memory (a handful of small files). */
export const ASSET_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'capture-worklet.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/**
 * src/web/public/test-call (the web server's static pages), found from this module in src/ (tsx) or dist/src/
 * (built: the Dockerfile copies the pages to dist/src/web/public).
 */
export function findAssetDir(): string {
  const candidates = [
    fileURLToPath(new URL('../../web/public/test-call/', import.meta.url)),
    fileURLToPath(new URL('../../../../src/web/public/test-call/', import.meta.url)),
  ];
  const dir = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (!dir) throw new Error(`test-call page assets not found (looked in ${candidates.join(', ')})`);
  return dir;
}

export function loadAssets(dir = findAssetDir()): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, contentType] of Object.entries(ASSET_FILES)) {
    assets.set(name, { body: readFileSync(join(dir, name)), contentType });
  }
  return assets;
}
