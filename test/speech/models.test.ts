import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asrConfig } from '../../src/speech/config.js';
import {
  MODEL_BASE_URL,
  STUB_MODEL_SHA256,
  modelBaseUrl,
  type WhisperModelInfo,
} from '../../src/speech/models/catalog.js';
import {
  ModelDownloadError,
  downloadModel,
  ensureWhisperModel,
  proxyFor,
  type DownloadProgress,
} from '../../src/speech/models/download.js';
import { STUB_WHISPER } from './helpers.js';

const stub = readFileSync(STUB_WHISPER);
const STUB_INFO: WhisperModelInfo = {
  name: 'stub',
  file: 'ggml-stub.bin',
  bytes: stub.length,
  sha256: STUB_MODEL_SHA256,
};

type Mode = 'ok' | 'truncate' | 'corrupt' | 'ignore-range' | 'missing';

/** Serves the stub model like the model host does (Range requests → 206), with configurable failures. */
class ModelHost {
  mode: Mode = 'ok';
  ranges: Array<string | undefined> = [];
  sent = 0;
  private server: Server | null = null;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.ranges.push(req.headers.range);
      if (this.mode === 'missing' || !req.url?.endsWith('.bin')) {
        res.writeHead(404);
        res.end('not found');
        return;
      }
      const body = Buffer.from(stub);
      if (this.mode === 'corrupt') body.writeUInt8((body.readUInt8(body.length - 10) ^ 0xff) & 0xff, body.length - 10);
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const from = m && this.mode !== 'ignore-range' ? Number(m[1]) : 0;
      const part = body.subarray(from);
      res.writeHead(from ? 206 : 200, {
        'content-length': String(part.length),
        ...(from ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
      });
      if (this.mode === 'truncate') {
        const half = part.subarray(0, Math.floor(part.length / 2));
        this.sent += half.length;
        res.write(half, () => res.destroy()); // the connection drops mid-file
        return;
      }
      this.sent += part.length;
      res.end(part);
    });
    await new Promise<void>((r) => (this.server as Server).listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${((this.server as Server).address() as AddressInfo).port}/models`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe('model downloader against a local model host', () => {
  let host: ModelHost;
  let baseUrl: string;
  let dir: string;
  beforeEach(async () => {
    host = new ModelHost();
    baseUrl = await host.start();
    dir = mkdtempSync(join(tmpdir(), 'models-'));
  });
  afterEach(async () => host.stop());

  it('downloads, verifies the SHA-256 and reports progress', async () => {
    const progress: DownloadProgress[] = [];
    const path = await downloadModel(STUB_INFO, { dir, baseUrl, onProgress: (p) => progress.push({ ...p }) });
    expect(path).toBe(join(dir, 'ggml-stub.bin'));
    expect(readFileSync(path).equals(stub)).toBe(true);
    expect(existsSync(`${path}.part`)).toBe(false);
    expect(progress.at(-1)).toEqual({ received: stub.length, total: stub.length, resumedFrom: 0 });
  });

  it('a checksum mismatch deletes the download and says so', async () => {
    host.mode = 'corrupt';
    const err = await downloadModel(STUB_INFO, { dir, baseUrl }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect(String(err)).toMatch(/wrong SHA-256/);
    expect(existsSync(join(dir, 'ggml-stub.bin'))).toBe(false);
    expect(existsSync(join(dir, 'ggml-stub.bin.part'))).toBe(false);
  });

  it('a truncated transfer keeps the part, and the next run resumes it with a Range request', async () => {
    host.mode = 'truncate';
    const err = await downloadModel(STUB_INFO, { dir, baseUrl }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelDownloadError);
    const partSize = statSync(join(dir, 'ggml-stub.bin.part')).size;
    expect(partSize).toBeGreaterThan(0);
    expect(partSize).toBeLessThan(stub.length);
    host.mode = 'ok';
    host.sent = 0;
    const progress: DownloadProgress[] = [];
    const path = await downloadModel(STUB_INFO, { dir, baseUrl, onProgress: (p) => progress.push({ ...p }) });
    expect(readFileSync(path).equals(stub)).toBe(true);
    expect(host.ranges.at(-1)).toBe(`bytes=${partSize}-`);
    expect(host.sent).toBe(stub.length - partSize); // only the rest travelled
    expect(progress[0]?.resumedFrom).toBe(partSize);
  });

  it('starts over when the server ignores the Range header', async () => {
    writeFileSync(join(dir, 'ggml-stub.bin.part'), stub.subarray(0, 1000));
    host.mode = 'ignore-range';
    const path = await downloadModel(STUB_INFO, { dir, baseUrl });
    expect(readFileSync(path).equals(stub)).toBe(true);
  });

  it('a missing file on the host is a clear error', async () => {
    host.mode = 'missing';
    await expect(downloadModel(STUB_INFO, { dir, baseUrl })).rejects.toThrow(/answered 404/);
  });

  it('ensureWhisperModel: without download it names the command; with download it fetches from the configured host', async () => {
    const cfg = asrConfig.parse({
      whisperCpp: { model: 'tiny.en', modelDir: dir, downloadBaseUrl: baseUrl },
    }).whisperCpp;
    await expect(ensureWhisperModel(cfg, { download: false })).rejects.toThrow(/Fix: voicebot models download tiny.en/);
    // the local host serves the stub under tiny.en's name: the checksum catches it
    await expect(ensureWhisperModel(cfg, { download: true })).rejects.toThrow(
      /sent a file of \d+ bytes, expected 77704715.*To retry by hand: voicebot models download tiny.en/,
    );
    expect(host.ranges.length).toBe(1);
  });

  it('the model host can be overridden by flag, environment or config', () => {
    expect(modelBaseUrl(undefined, undefined, {})).toBe(MODEL_BASE_URL);
    expect(modelBaseUrl('http://cfg/x/', undefined, {})).toBe('http://cfg/x');
    expect(modelBaseUrl('http://cfg', undefined, { VOICEBOT_MODEL_BASE_URL: 'http://env' })).toBe('http://env');
    expect(modelBaseUrl('http://cfg', 'http://flag', { VOICEBOT_MODEL_BASE_URL: 'http://env' })).toBe('http://flag');
  });

  it('voicebot models download: --base-url, and a non-zero exit on the wrong file', async () => {
    const root = resolve(import.meta.dirname, '../..');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((done) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'models', ...args],
          { cwd: root, env: { ...process.env, VOICEBOT_CONFIG: '' }, timeout: 60_000 },
          (err, stdout, stderr) =>
            done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        );
      });
    const bad = await run(['download', 'tiny.en', '--dir', dir, '--base-url', baseUrl, '--no-progress']);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain(`from ${baseUrl}`);
    expect(bad.out).toMatch(/sent a file of \d+ bytes, expected 77704715/);
    const unknown = await run(['download', 'huge.xx', '--dir', dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toMatch(/unknown model "huge.xx"/);
  });
});

/**
 * A forward proxy on loopback that tunnels with CONNECT (how the downloader's proxy client talks to any proxy).
 * Like squid's default policy it refuses tunnels it is not told to allow: here, anything but loopback.
 */
class Proxy {
  connects: string[] = [];
  private server: Server | null = null;
  private readonly tunnels = new Set<Socket>();

  async start(): Promise<string> {
    this.server = createServer((_req, res) => {
      res.writeHead(405);
      res.end();
    });
    this.server.on('connect', (req: { url?: string }, client: Socket, head: Buffer) => {
      const target = req.url ?? '';
      this.connects.push(target);
      const [hostname = '', port = ''] = target.split(/:(?=\d+$)/);
      if (hostname !== '127.0.0.1') {
        client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      const upstream = connect(Number(port), hostname, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) {
        this.tunnels.add(s);
        s.on('close', () => this.tunnels.delete(s));
      }
      // a dropped upstream drops the client too, as a real tunnel does
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((r) => (this.server as Server).listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${((this.server as Server).address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.tunnels) s.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe('model downloads behind a proxy (loopback proxy and host)', () => {
  let host: ModelHost;
  let proxy: Proxy;
  let baseUrl: string;
  let proxyUrl: string;
  let dir: string;
  beforeEach(async () => {
    host = new ModelHost();
    proxy = new Proxy();
    baseUrl = await host.start();
    proxyUrl = await proxy.start();
    dir = mkdtempSync(join(tmpdir(), 'models-'));
  });
  afterEach(async () => Promise.all([host.stop(), proxy.stop()]));

  it('HTTP_PROXY carries the download, and a resumed one keeps its Range through the proxy', async () => {
    host.mode = 'truncate';
    await expect(downloadModel(STUB_INFO, { dir, baseUrl, env: { HTTP_PROXY: proxyUrl } })).rejects.toThrow(
      /failed after \d+ bytes \(kept; the next run resumes\)/,
    );
    const partSize = statSync(join(dir, 'ggml-stub.bin.part')).size;
    host.mode = 'ok';
    const path = await downloadModel(STUB_INFO, { dir, baseUrl, env: { http_proxy: proxyUrl } });
    expect(readFileSync(path).equals(stub)).toBe(true);
    const hostPort = new URL(baseUrl).host;
    expect(proxy.connects).toEqual([hostPort, hostPort]);
    expect(host.ranges).toEqual([undefined, `bytes=${partSize}-`]);
  });

  it('NO_PROXY sends a matching host around the proxy', async () => {
    const path = await downloadModel(STUB_INFO, { dir, baseUrl, env: { HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' } });
    expect(readFileSync(path).equals(stub)).toBe(true);
    expect(proxy.connects).toEqual([]);
    expect(host.ranges).toEqual([undefined]);
  });

  it('HTTPS_PROXY is used for the public https host; when it refuses, the error names the file, place and checksum', async () => {
    const info = {
      name: 'tiny.en',
      file: 'ggml-tiny.en.bin',
      bytes: 77_691_713,
      sha256: 'be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21',
    };
    const err = await downloadModel(info, { dir, baseUrl: MODEL_BASE_URL, env: { HTTPS_PROXY: proxyUrl } }).catch(
      (e: unknown) => e,
    );
    expect(proxy.connects).toEqual(['huggingface.co:443']);
    expect(err).toBeInstanceOf(ModelDownloadError);
    const message = String(err);
    expect(message).toContain(`cannot reach ${MODEL_BASE_URL}/ggml-tiny.en.bin`);
    expect(message).toContain(`save it as ${resolve(dir, 'ggml-tiny.en.bin')}`);
    expect(message).toContain(`prints ${info.sha256}`);
    expect(message).toContain('77691713 bytes');
    expect(message).toContain('set HTTPS_PROXY');
    expect(existsSync(join(dir, 'ggml-tiny.en.bin'))).toBe(false);
  });
});

describe('proxyFor: which proxy a model URL uses', () => {
  const env = { HTTPS_PROXY: 'http://proxy:3128', http_proxy: 'http://plain:8080' };
  const at = (url: string, extra: Record<string, string> = {}) => proxyFor(new URL(url), { ...env, ...extra });
  it('takes the scheme’s variable, either case', () => {
    expect(at('https://huggingface.co/x')).toBe('http://proxy:3128');
    expect(at('http://mirror.lan/x')).toBe('http://plain:8080');
    expect(proxyFor(new URL('https://huggingface.co/x'), {})).toBeUndefined();
  });
  it('NO_PROXY: exact host, domain suffix, leading dot or *., port, and *', () => {
    expect(at('https://huggingface.co/x', { NO_PROXY: 'huggingface.co' })).toBeUndefined();
    expect(at('https://cdn.huggingface.co/x', { no_proxy: '.huggingface.co' })).toBeUndefined();
    expect(at('https://cdn.huggingface.co/x', { NO_PROXY: '*.huggingface.co' })).toBeUndefined();
    expect(at('https://nothuggingface.co/x', { NO_PROXY: 'huggingface.co' })).toBe('http://proxy:3128');
    expect(at('https://huggingface.co/x', { NO_PROXY: 'huggingface.co:8443' })).toBe('http://proxy:3128');
    expect(at('https://huggingface.co:8443/x', { NO_PROXY: 'huggingface.co:8443' })).toBeUndefined();
    expect(at('http://[::1]:9/x', { NO_PROXY: 'localhost, ::1' })).toBeUndefined();
    expect(at('https://anything/x', { NO_PROXY: '*' })).toBeUndefined();
  });
});
