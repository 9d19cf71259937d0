#!/usr/bin/env node
/**
 * Builds smart-whisper's native addon (whisper.cpp) once, with the fastest flags this machine supports.
 * Run by `npm install` (postinstall) and by hand:
 *
 *   node scripts/build-whisper.mjs            # AVX2 build (-march=x86-64-v3) when the CPU has it, portable otherwise
 *   node scripts/build-whisper.mjs --portable # force the portable build (e.g. a docker image built for other CPUs)
 *   node scripts/build-whisper.mjs --cuda     # whisper.cpp with GGML_CUDA=1, linked through smart-whisper's BYOL
 *   node scripts/build-whisper.mjs --force    # rebuild even if the marker says it is up to date
 *   node scripts/build-whisper.mjs --dry-run  # print what would run
 *
 * The same choices can come from the environment: VOICEBOT_WHISPER_BUILD=cuda|portable|native|skip.
 * A marker file (build/voicebot-build.json inside smart-whisper) records the flags; a matching build is skipped.
 * Never fails `npm install` on a portable build error: it prints the command to retry and exits 0, because the
 * rest of the bot (OpenAI-compatible ASR) works without the addon. A requested CUDA build that fails exits 1.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const args = new Set(process.argv.slice(2));
const envMode = (process.env.VOICEBOT_WHISPER_BUILD ?? '').toLowerCase();
const dryRun = args.has('--dry-run');
const force = args.has('--force');

if (envMode === 'skip') {
  console.log('build-whisper: VOICEBOT_WHISPER_BUILD=skip, nothing to do');
  process.exit(0);
}

const require = createRequire(import.meta.url);
let pkgDir;
try {
  pkgDir = dirname(require.resolve('smart-whisper/package.json'));
} catch {
  console.log('build-whisper: smart-whisper is not installed, skipping');
  process.exit(0);
}
const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;

/** CPU flags of the first processor in /proc/cpuinfo (Linux); empty elsewhere. */
function cpuFlags(cpuinfo) {
  const line = cpuinfo.split('\n').find((l) => l.startsWith('flags'));
  return new Set(line ? line.split(':')[1].trim().split(/\s+/) : []);
}

function hasAvx2() {
  if (process.arch !== 'x64') return false;
  try {
    const flags = cpuFlags(readFileSync('/proc/cpuinfo', 'utf8'));
    // x86-64-v3 = AVX, AVX2, BMI1/2, F16C, FMA, LZCNT, MOVBE: check the ones whisper.cpp uses.
    return ['avx2', 'fma', 'f16c', 'bmi2'].every((f) => flags.has(f));
  } catch {
    return false;
  }
}

const mode =
  args.has('--cuda') || envMode === 'cuda'
    ? 'cuda'
    : args.has('--portable') || envMode === 'portable'
      ? 'portable'
      : hasAvx2()
        ? 'avx2'
        : 'portable';
// NDEBUG: ggml's per-request debug prints to stderr (buffer reallocation notes) are compiled out.
const cflags = `${mode === 'portable' ? '' : '-march=x86-64-v3 '}-DNDEBUG`;
const cudaPath = process.env.CUDA_PATH ?? '/usr/local/cuda';
const marker = join(pkgDir, 'build', 'voicebot-build.json');
const addon = join(pkgDir, 'build', 'Release', 'smart-whisper.node');
const wanted = { mode, cflags, smartWhisper: version, node: process.versions.modules };

function upToDate() {
  if (!existsSync(addon) || !existsSync(marker)) return false;
  try {
    const have = JSON.parse(readFileSync(marker, 'utf8'));
    return Object.entries(wanted).every(([k, v]) => have[k] === v);
  } catch {
    return false;
  }
}

if (!force && upToDate()) {
  console.log(`build-whisper: smart-whisper ${version} already built (${mode}${cflags ? ` ${cflags}` : ''})`);
  process.exit(0);
}

/** node-gyp: the one npm runs scripts with, else the one bundled with npm next to this node. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    resolve(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  const found = candidates.find((c) => c && existsSync(c));
  return found ? [process.execPath, found] : ['npx', '--no-install', 'node-gyp'];
}

/** Headers shipped with a distro node (/usr/include/node) let node-gyp build offline. */
function nodedirArgs() {
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node.h')) ? [`--nodedir=${prefix}`] : [];
}

function run(cmd, argv, opts) {
  const shown = `${Object.entries(opts.env ?? {})
    .filter(([k]) => ['CFLAGS', 'CXXFLAGS', 'BYOL', 'GGML_CUDA', 'CUDA_PATH'].includes(k))
    .map(([k, v]) => `${k}='${v}' `)
    .join('')}${cmd} ${argv.join(' ')}`;
  console.log(`build-whisper: (cd ${opts.cwd} && ${shown})`);
  if (dryRun) return 0;
  const r = spawnSync(cmd, argv, { stdio: 'inherit', ...opts, env: { ...process.env, ...opts.env } });
  return r.status ?? 1;
}

const jobs = String(Math.max(1, cpus().length));
const env = { CFLAGS: cflags, CXXFLAGS: cflags };

if (mode === 'cuda') {
  // whisper.cpp's own Makefile builds libwhisper.a (whisper + ggml + the CUDA kernels) in a private copy.
  const nvcc = join(cudaPath, 'bin', 'nvcc');
  if (!existsSync(nvcc) && spawnSync('nvcc', ['--version']).status !== 0) {
    console.error(`build-whisper: --cuda needs the CUDA toolkit (nvcc not found in ${cudaPath}/bin or PATH)`);
    process.exit(1);
  }
  const src = join(pkgDir, 'whisper.cpp');
  // Outside build/: `node-gyp rebuild` wipes build/ before it links the library.
  const work = resolve(pkgDir, '..', '.cache', 'voicebot-whisper-cuda');
  if (!dryRun) {
    mkdirSync(work, { recursive: true });
    cpSync(src, work, { recursive: true });
    // The npm package omits whisper.cpp/scripts/get-flags.mk (only compiler warning flags): provide an empty one.
    mkdirSync(join(work, 'scripts'), { recursive: true });
    writeFileSync(join(work, 'scripts', 'get-flags.mk'), '# empty: warnings only\n');
  }
  const makeEnv = { ...env, GGML_CUDA: '1', CUDA_PATH: cudaPath };
  if (run('make', ['-j', jobs, 'libwhisper.a'], { cwd: work, env: makeEnv }) !== 0) {
    console.error('build-whisper: building whisper.cpp with GGML_CUDA=1 failed (see above)');
    process.exit(1);
  }
  const lib = join(work, 'libwhisper.a');
  const cudaLibs = [
    `-L${cudaPath}/lib64`,
    `-L${cudaPath}/targets/x86_64-linux/lib`,
    `-L${cudaPath}/lib64/stubs`,
    '-lcuda -lcublas -lculibos -lcudart -lcublasLt -lpthread -ldl -lrt -lstdc++',
    `-Wl,-rpath,${cudaPath}/lib64`,
  ].join(' ');
  env.BYOL = `${lib} ${cudaLibs}`;
}

const [gypCmd, ...gypArgs] = nodeGyp();
const status = run(gypCmd, [...gypArgs, 'rebuild', '-j', jobs, ...nodedirArgs()], { cwd: pkgDir, env });
if (status !== 0) {
  const retry = `node scripts/build-whisper.mjs --force${mode === 'cuda' ? ' --cuda' : ''}`;
  console.error(
    `build-whisper: node-gyp failed (exit ${status}); whisper-cpp ASR is unavailable until you run: ${retry}`,
  );
  process.exit(mode === 'cuda' ? 1 : 0);
}
if (!dryRun) writeFileSync(marker, JSON.stringify({ ...wanted, builtAt: new Date().toISOString() }, null, 2) + '\n');
console.log(
  `build-whisper: ${dryRun ? 'would build' : 'built'} smart-whisper ${version} (${mode}${cflags ? ` ${cflags}` : ''})`,
);
