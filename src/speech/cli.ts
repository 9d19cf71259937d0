import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfigOrExit, withConfigOption } from '../cli/common.js';
import { WHISPER_MODELS, modelBaseUrl } from './models/catalog.js';
import { downloadModel, type DownloadProgress } from './models/download.js';

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

/** `voicebot models list|download`: whisper.cpp model files for the whisper-cpp ASR provider. */
export function registerModelsCommands(program: Command): void {
  const models = program.command('models').description('whisper.cpp speech recognition models');

  withConfigOption(models.command('list'))
    .description('list the downloadable models and which are present in the model directory')
    .option('-d, --dir <dir>', 'model directory (default: speech.asr.whisperCpp.modelDir)')
    .action((opts: { config?: string; dir?: string }) => {
      const cfg = loadConfigOrExit(opts).speech.asr.whisperCpp;
      const dir = resolve(opts.dir ?? cfg.modelDir);
      console.log(`model directory: ${dir}`);
      for (const m of Object.values(WHISPER_MODELS)) {
        const path = join(dir, m.file);
        const size = existsSync(path) ? statSync(path).size : -1;
        const state = size === m.bytes ? 'present' : size >= 0 ? `incomplete (${mb(size)})` : '';
        const active = m.name === cfg.model && !cfg.modelPath ? '(configured)' : '';
        console.log(`  ${m.name.padEnd(16)} ${mb(m.bytes).padStart(8)}  ${[state, active].filter(Boolean).join(' ')}`);
      }
    });

  withConfigOption(models.command('download'))
    .description('download a model (resumes a partial download, verifies the SHA-256)')
    .argument('<name>', `one of: ${Object.keys(WHISPER_MODELS).join(', ')}`)
    .option('-d, --dir <dir>', 'model directory (default: speech.asr.whisperCpp.modelDir)')
    .option('--base-url <url>', 'model host (default: $VOICEBOT_MODEL_BASE_URL, config, then the public host)')
    .option('--no-progress', 'no progress bar (for logs)')
    .action(async (name: string, opts: { config?: string; dir?: string; baseUrl?: string; progress: boolean }) => {
      const cfg = loadConfigOrExit(opts).speech.asr.whisperCpp;
      const info = WHISPER_MODELS[name];
      if (!info) {
        console.error(`voicebot: unknown model "${name}"; known: ${Object.keys(WHISPER_MODELS).join(', ')}`);
        process.exitCode = 2;
        return;
      }
      const dir = resolve(opts.dir ?? cfg.modelDir);
      const baseUrl = modelBaseUrl(cfg.downloadBaseUrl, opts.baseUrl);
      const bar =
        opts.progress && process.stdout.isTTY
          ? new SingleBar({ format: ' {bar} {percentage}% | {value}/{total} MB | {eta}s' }, Presets.shades_classic)
          : null;
      const abort = new AbortController();
      const onSignal = () => abort.abort(new Error('interrupted'));
      process.once('SIGINT', onSignal);
      let lastLogged = -1;
      const onProgress = (p: DownloadProgress) => {
        const total = Math.round((p.total ?? info.bytes) / 1e6);
        const value = Math.round(p.received / 1e6);
        if (bar) {
          if (bar.getTotal() !== total) bar.start(total, value);
          bar.update(value);
        } else if (value - lastLogged >= Math.max(1, Math.round(total / 10)) || value === total) {
          lastLogged = value;
          console.log(`  ${value}/${total} MB${p.resumedFrom ? ` (resumed at ${mb(p.resumedFrom)})` : ''}`);
        }
      };
      console.log(`downloading ${info.name} (${mb(info.bytes)}) from ${baseUrl} to ${dir}`);
      try {
        const path = await downloadModel(info, { dir, baseUrl, onProgress, signal: abort.signal });
        bar?.stop();
        console.log(`saved ${path} (SHA-256 verified)`);
        if (cfg.model !== info.name || cfg.modelPath || resolve(cfg.modelDir) !== dir) {
          console.log(
            `to use it set speech.asr.whisperCpp.model: ${info.name}${resolve(cfg.modelDir) !== dir ? ` and modelDir: ${dir}` : ''}`,
          );
        }
      } catch (err) {
        bar?.stop();
        console.error(`voicebot: ${(err as Error).message}`);
        process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSignal);
      }
    });
}
