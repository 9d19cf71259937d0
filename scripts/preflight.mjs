#!/usr/bin/env node
// Preflight: which system programs are missing, and the one command that installs them. Plain Node, no dependencies,
// so it runs before `npm install` too (.ci/run) and as the first step of `npm test`.
//   node scripts/preflight.mjs                 check the test phase; exit 1 listing what to install
//   node scripts/preflight.mjs --phase install check what `npm install` needs
//   node scripts/preflight.mjs --apt-missing   print the apt package names missing in any phase (for .ci/run)
// The list lives in scripts/system-packages.json. CHROMIUM_PATH (and any package's "env") overrides the lookup.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const LIST = JSON.parse(readFileSync(new URL('./system-packages.json', import.meta.url), 'utf8')).packages;

function executable(path) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function found(pkg, env) {
  if (pkg.env && env[pkg.env]) return executable(env[pkg.env]);
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  return pkg.programs.some((p) => dirs.some((d) => executable(join(d, p))));
}

export function missing(phases, env = process.env) {
  return LIST.filter((pkg) => phases.includes(pkg.phase) && !found(pkg, env));
}

export function report(pkgs, platform = process.platform) {
  const required = pkgs.filter((p) => !p.optional);
  const optional = pkgs.filter((p) => p.optional);
  const lines = [];
  const describe = (p) => `  - ${p.programs.join(' / ')}: ${p.why}`;
  if (required.length > 0) {
    lines.push('voicebot preflight: these programs are missing:', ...required.map(describe));
  }
  if (optional.length > 0) lines.push('optional, missing (some tests are skipped):', ...optional.map(describe));
  const all = [...required, ...optional];
  lines.push('', 'Install them with:');
  const apt = `sudo apt-get install -y ${all.map((p) => p.apt).join(' ')}`;
  const formulae = all.filter((p) => p.brew && !p.brew.startsWith('--cask')).map((p) => p.brew);
  const casks = all.filter((p) => p.brew?.startsWith('--cask')).map((p) => p.brew.slice('--cask '.length));
  const mac = [
    ...(all.some((p) => !p.brew) ? ['xcode-select --install'] : []),
    ...(formulae.length > 0 ? [`brew install ${formulae.join(' ')}`] : []),
    ...(casks.length > 0 ? [`brew install --cask ${casks.join(' ')}`] : []),
  ].join(' && ');
  if (platform === 'darwin') lines.push(`  macOS:         ${mac}`, `  Debian/Ubuntu: ${apt}`);
  else lines.push(`  Debian/Ubuntu: ${apt}`, `  macOS:         ${mac}`);
  return lines.join('\n');
}

function main(argv) {
  if (argv.includes('--apt-missing')) {
    console.log(
      missing(['install', 'test'])
        .map((p) => p.apt)
        .join(' '),
    );
    return 0;
  }
  const phaseArg = argv.indexOf('--phase');
  const phase = phaseArg >= 0 ? argv[phaseArg + 1] : 'test';
  const gaps = missing([phase]);
  if (gaps.length === 0) return 0;
  const blocking = gaps.some((p) => !p.optional);
  (blocking ? console.error : console.warn)(`${report(gaps)}\n`);
  if (blocking) console.error('Then run the same command again.');
  return blocking ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
