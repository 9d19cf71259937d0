#!/usr/bin/env node
/**
 * Builds smart-whisper's native addon (whisper.cpp) once, with the fastest flags this machine supports.
 * Run by `npm install` (postinstall) and by hand:
 *
 *   node scripts/build-whisper.mjs            # the best instruction set the CPU has: AVX-512 (-march=x86-64-v4),
 *                                             # else AVX2 (-march=x86-64-v3), else portable
 *   node scripts/build-whisper.mjs --portable # force the portable build (e.g. a docker image built for other CPUs)
 *   node scripts/build-whisper.mjs --cuda     # whisper.cpp with GGML_CUDA=1, linked through smart-whisper's BYOL
 *   node scripts/build-whisper.mjs --force    # rebuild even if the marker says it is up to date
 *   node scripts/build-whisper.mjs --dry-run  # print what would run
 *
 * The same choices can come from the environment: VOICEBOT_WHISPER_BUILD=cuda|portable|avx2|avx512|skip.
 * Before building, smart-whisper's binding is patched to keep one whisper_state per concurrent request and reuse
 * it (see STATE_POOL): by default it creates and frees a state (~200-300 MB of buffers) for every request.
 * A marker file (build/voicebot-build.json inside smart-whisper) records the flags; a matching build is skipped.
 * Never fails `npm install` on a portable build error: it prints the command to retry and exits 0, because the
 * rest of the bot (OpenAI-compatible ASR) works without the addon. A requested CUDA build that fails exits 1.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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

/** The best x86-64 level this CPU runs: 'avx512' (x86-64-v4), 'avx2' (x86-64-v3) or 'portable'. */
function bestCpuMode() {
  if (process.arch !== 'x64') return 'portable';
  try {
    const flags = cpuFlags(readFileSync('/proc/cpuinfo', 'utf8'));
    // x86-64-v3 = AVX, AVX2, BMI1/2, F16C, FMA, LZCNT, MOVBE: check the ones whisper.cpp uses.
    const v3 = ['avx2', 'fma', 'f16c', 'bmi2'].every((f) => flags.has(f));
    // x86-64-v4 adds AVX-512 F, BW, CD, DQ, VL: ggml's F16/F32 dot products use 512-bit vectors with them.
    const v4 = v3 && ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'].every((f) => flags.has(f));
    return v4 ? 'avx512' : v3 ? 'avx2' : 'portable';
  } catch {
    return 'portable';
  }
}

const MARCH = { avx512: '-march=x86-64-v4 ', avx2: '-march=x86-64-v3 ', portable: '' };
const mode =
  args.has('--cuda') || envMode === 'cuda'
    ? 'cuda'
    : args.has('--portable') || envMode === 'portable'
      ? 'portable'
      : envMode === 'avx2' || envMode === 'avx512'
        ? envMode
        : bestCpuMode();
// NDEBUG: ggml's per-request debug prints to stderr (buffer reallocation notes) are compiled out.
const cflags = `${MARCH[mode] ?? MARCH.avx2}-DNDEBUG`;

/**
 * One whisper_state per concurrent request, kept for the next one: smart-whisper's worker calls whisper_init_state
 * (compute buffers and KV caches, ~200-300 MB to allocate and first-touch) and whisper_free_state around every
 * request. The pool hands a finished request's state to the next (whisper_full_with_state clears its results and
 * KV cache itself), so it holds as many states as requests ever ran at once (speech.asr.whisperCpp.parallelism).
 * States are freed with their model.
 */
const STATE_POOL = {
  name: 'state-pool-v1',
  files: {
    'src/binding/transcribe.cc': [
      [
        '#include "transcribe.h"\n',
        `#include "transcribe.h"\n
#include <mutex>
#include <unordered_map>
#include <vector>

// voicebot patch (${'state-pool-v1'}): reuse whisper states instead of one init/free per request.
static std::mutex                                                           g_state_pool_mutex;
static std::unordered_map<whisper_context*, std::vector<whisper_state*>> g_state_pool;

static whisper_state* state_pool_take(whisper_context* ctx) {
    {
        std::lock_guard<std::mutex> lock(g_state_pool_mutex);
        auto&                       free_states = g_state_pool[ctx];
        if (!free_states.empty()) {
            whisper_state* s = free_states.back();
            free_states.pop_back();
            return s;
        }
    }
    return whisper_init_state(ctx);
}

static void state_pool_give(whisper_context* ctx, whisper_state* s) {
    std::lock_guard<std::mutex> lock(g_state_pool_mutex);
    g_state_pool[ctx].push_back(s);
}

void smart_whisper_state_pool_drain(whisper_context* ctx) {
    std::lock_guard<std::mutex> lock(g_state_pool_mutex);
    auto                        it = g_state_pool.find(ctx);
    if (it == g_state_pool.end()) return;
    for (whisper_state* s : it->second) whisper_free_state(s);
    g_state_pool.erase(it);
}
`,
      ],
      ['            whisper_free_state(state);', '            state_pool_give(context, state);'],
      ['        state = whisper_init_state(context);', '        state = state_pool_take(context);'],
    ],
    'src/binding/transcribe.h': [
      [
        'Napi::Value Transcribe(const Napi::CallbackInfo& info);',
        'Napi::Value Transcribe(const Napi::CallbackInfo& info);\nvoid        smart_whisper_state_pool_drain(whisper_context* ctx);',
      ],
    ],
    'src/binding/model.cc': [
      ['#include "model.h"\n', '#include "model.h"\n#include "transcribe.h"\n'],
      [
        '    void Execute() override { whisper_free(context); }',
        '    void Execute() override {\n        smart_whisper_state_pool_drain(context);\n        whisper_free(context);\n    }',
      ],
      [
        '    if (context != nullptr) {\n        whisper_free(context);',
        '    if (context != nullptr) {\n        smart_whisper_state_pool_drain(context);\n        whisper_free(context);',
      ],
    ],
  },
};

/**
 * Applies STATE_POOL to smart-whisper's sources unless already there. Writes each file beside itself and renames
 * it over the original, so a node_modules hard-linked from another checkout keeps its own copy untouched.
 */
function applyStatePool(dir) {
  for (const [rel, edits] of Object.entries(STATE_POOL.files)) {
    const file = join(dir, rel);
    let text = readFileSync(file, 'utf8');
    if (text.includes('smart_whisper_state_pool_drain')) continue;
    for (const [from, to] of edits) {
      if (!text.includes(from))
        throw new Error(`build-whisper: ${rel} does not contain the expected code for ${STATE_POOL.name}`);
      text = text.replace(from, to);
    }
    if (dryRun) continue;
    writeFileSync(`${file}.voicebot-tmp`, text);
    renameSync(`${file}.voicebot-tmp`, file);
  }
}
const cudaPath = process.env.CUDA_PATH ?? '/usr/local/cuda';
const marker = join(pkgDir, 'build', 'voicebot-build.json');
const addon = join(pkgDir, 'build', 'Release', 'smart-whisper.node');
const wanted = { mode, cflags, smartWhisper: version, node: process.versions.modules, patch: STATE_POOL.name };

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

try {
  applyStatePool(pkgDir);
} catch (err) {
  wanted.patch = 'none';
  console.error(`${err.message}; building smart-whisper unpatched (one whisper state per request)`);
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
