/**
 * deploy/kubernetes: every manifest valid against the Kubernetes schemas (strict), the GPU overlay too; the ConfigMap
 * and Secret pass the bot's own config validation; probes hit endpoints the web server really serves with the real
 * readiness state; selectors, ports and names line up; requests cover the documented memory per call.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { createMetrics } from '../../src/core/metrics.js';
import { Readiness } from '../../src/core/readiness.js';
import { WHISPER_MODELS } from '../../src/speech/models/catalog.js';
import { createWebServer } from '../../src/web/server.js';
import { k8sProblems, type K8sObject } from './k8s-schema.js';

const DIR = 'deploy/kubernetes';
const load = (file: string) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as K8sObject);
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const objects = files.flatMap((f) => load(`${DIR}/${f}`));
const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;

interface Container {
  name: string;
  image: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string | number> };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  startupProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface PodSpec {
  containers: Container[];
  nodeSelector?: Record<string, string>;
  terminationGracePeriodSeconds?: number;
}
type Workload = K8sObject & {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};

const deployment = find('Deployment', 'voicebot') as Workload;
const bot = deployment.spec.template.spec.containers[0]!;

/** kustomize's strategic merge for what the GPU patch touches: containers and env by name, maps deep. */
function strategicMerge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch)) {
    const byName = (x: unknown) => (x as { name?: string }).name;
    if (!patch.every((p) => byName(p) !== undefined)) return patch;
    const out = base.map((b) => {
      const p = patch.find((x) => byName(x) === byName(b));
      return p ? strategicMerge(b, p) : b;
    });
    for (const p of patch) if (!base.some((b) => byName(b) === byName(p))) out.push(p);
    return out;
  }
  if (base && patch && typeof base === 'object' && typeof patch === 'object') {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(patch)) out[k] = k in out ? strategicMerge(out[k], v) : v;
    return out;
  }
  return patch;
}

describe('Kubernetes manifests', () => {
  it('every object is valid against the Kubernetes API schema, with no unknown field', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'StatefulSet'].sort(),
    );
    for (const o of objects) expect(k8sProblems(o), `${o.kind} ${o.metadata.name}`).toEqual([]);
  });

  it('the strict check catches a typo and a wrong type (it can fail)', () => {
    const typo = structuredClone(deployment) as unknown as { spec: Record<string, unknown> };
    typo.spec['replica'] = 3;
    expect(k8sProblems(typo as unknown as K8sObject)).toEqual(['unknown field /spec/replica']);
    const wrong = structuredClone(deployment);
    wrong.spec.template.spec.containers[0]!.ports![0]!.containerPort = 'http' as unknown as number;
    expect(k8sProblems(wrong).join()).toMatch(/containerPort must be integer/);
  });

  it('kustomization lists every manifest; the GPU overlay gives a valid Deployment on GPU nodes with the CUDA image', () => {
    const kust = load(`${DIR}/kustomization.yaml`)[0] as unknown as { resources: string[] };
    expect(kust.resources.sort()).toEqual(files.sort());
    const overlay = load(`${DIR}/gpu/kustomization.yaml`)[0] as unknown as {
      resources: string[];
      patches: Array<{ path: string }>;
    };
    expect(overlay.resources).toEqual(['..']);
    const patch = load(`${DIR}/gpu/${overlay.patches[0]!.path}`)[0]!;
    expect(patch.metadata.name).toBe(deployment.metadata.name);
    const gpu = strategicMerge(deployment, patch) as Workload;
    expect(k8sProblems(gpu)).toEqual([]);
    const pod = gpu.spec.template.spec;
    const c = pod.containers[0]!;
    expect(pod.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(c.image).toBe('voicebot:cuda');
    expect(c.resources?.limits?.['nvidia.com/gpu']).toBe(1);
    expect(c.resources?.requests).toEqual(bot.resources?.requests); // kept from the base
    expect(c.env?.map((e) => e.name)).toEqual([
      'VOICEBOT_TELEPHONY__ASTERISK__RTP_HOST',
      'VOICEBOT_SPEECH__ASR__WHISPER_CPP__DEVICE',
    ]);
    const env = { ...configEnv(), VOICEBOT_SPEECH__ASR__WHISPER_CPP__DEVICE: 'cuda' };
    expect(loadConfig({ file: 'examples/support-line.yaml', env }).speech.asr.whisperCpp.device).toBe('cuda');
  });

  it("the ConfigMap and Secret pass the bot's own config validation: outbound websockets, Redis, the pod's ports", () => {
    const config = loadConfig({ file: 'examples/support-line.yaml', env: configEnv() });
    const ari = config.telephony.asterisk!;
    expect(config.telephony.backend).toBe('asterisk');
    expect(ari.connection).toBe('outbound');
    expect(ari.rtpHost).toBe('10.1.2.3');
    expect(ari.password.reveal()).toBe('change-me-ari');
    expect(config.session.store).toBe('redis');
    expect(config.session.leaseMs).toBe(1500); // the crash takeover budget, as in docker-compose.yml
    // names that must line up with the other objects
    const redisService = find('Service', 'voicebot-redis') as K8sObject & { spec: { ports: Array<{ port: number }> } };
    expect(new URL(config.redis!.url).hostname).toBe(redisService.metadata.name);
    expect(Number(new URL(config.redis!.url).port)).toBe(redisService.spec.ports[0]!.port);
    const http = bot.ports!.find((p) => p.name === 'http')!;
    expect(config.web.port).toBe(http.containerPort);
    expect(bot.ports!.find((p) => p.name === 'rtp-first')!.containerPort).toBe(ari.rtpPortMin);
    // a wrong value stops start-up naming the key: the check is real
    expect(() =>
      loadConfig({
        file: 'examples/support-line.yaml',
        env: { ...configEnv(), VOICEBOT_TELEPHONY__ASTERISK__CONNECTION: 'sideways' },
      }),
    ).toThrow(/telephony\.asterisk\.connection/);
  });

  it('selectors and ports line up: Service → pods, PDB → pods, probes → the named port', () => {
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    const service = find('Service', 'voicebot') as K8sObject & {
      spec: { selector: Record<string, string>; ports: Array<{ targetPort: string }> };
    };
    expect(service.spec.selector).toEqual(labels);
    expect(bot.ports!.map((p) => p.name)).toContain(service.spec.ports[0]!.targetPort);
    const pdb = find('PodDisruptionBudget', 'voicebot') as K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    const refs = (
      deployment.spec.template.spec.containers[0] as unknown as { envFrom: Array<Record<string, { name: string }>> }
    ).envFrom;
    expect(refs.map((r) => Object.values(r)[0]!.name).sort()).toEqual(['voicebot-config', 'voicebot-secrets']);
    const podIp = bot.env!.find((e) => e.name === 'VOICEBOT_TELEPHONY__ASTERISK__RTP_HOST')!;
    expect(podIp.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
  });

  it('liveness and readiness hit /healthz and /readyz, which the web server serves with the real readiness state', async () => {
    expect(bot.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(bot.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(bot.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const readiness = new Readiness();
    const web = await createWebServer({ logger: pino({ level: 'silent' }), metrics: createMetrics(false), readiness });
    try {
      readiness.set('asterisk', false, 'no ARI websocket yet');
      const get = async (path: string) => (await web.inject({ method: 'GET', url: path })).statusCode;
      expect(await get('/healthz')).toBe(200);
      expect(await get('/readyz')).toBe(503);
      readiness.set('asterisk', true);
      expect(await get('/readyz')).toBe(200);
    } finally {
      await web.close();
    }
  });

  it('requests cover idle RSS + the model + 10 MB per admitted call (docs/security.md), within the limit', () => {
    const config = loadConfig({ file: 'examples/support-line.yaml', env: configEnv() });
    const mib = (q: string) => {
      const [, n, unit] = /^(\d+)(Mi|Gi)$/.exec(q)!;
      return Number(n) * (unit === 'Gi' ? 1024 : 1);
    };
    const request = mib(bot.resources!.requests!['memory']!);
    const limit = mib(String(bot.resources!.limits!['memory']));
    const model = WHISPER_MODELS[config.speech.asr.whisperCpp.model]!.bytes / 2 ** 20;
    const needed = 200 + model + 10 * config.telephony.maxConcurrentCalls;
    expect(request).toBeGreaterThanOrEqual(needed);
    expect(limit).toBeGreaterThan(request);
    expect(Number(bot.resources!.requests!['cpu'])).toBeGreaterThanOrEqual(1);
  });

  it('preStop waits until the pod has no admitted call, then lets SIGTERM through', async () => {
    const command = bot.lifecycle!.preStop!.exec!.command;
    expect(command.slice(0, 2)).toEqual(['node', '-e']);
    const grace = deployment.spec.template.spec.terminationGracePeriodSeconds!;
    expect(grace).toBeGreaterThanOrEqual(300); // a phone call's length, not a web request's
    let active = 2;
    let scrapes = 0;
    const server = createServer((_req, res) => {
      scrapes++;
      if (scrapes === 2) active = 0; // the pod's last calls end
      res.end(`# HELP x\nvoicebot_calls_admitted_active ${active}\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const script = command[2]!.replace('127.0.0.1:3000', `127.0.0.1:${port}`).replace('2000', '50');
      const started = performance.now();
      await promisify(execFile)('node', ['-e', script], { timeout: 10_000 });
      expect(scrapes).toBe(2); // 2 calls: waits; 0: exits
      expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    } finally {
      server.close();
    }
  });
});

/** The pod's environment: ConfigMap data + Secret stringData + the pod IP from the downward API. */
function configEnv(): Record<string, string> {
  const cm = find('ConfigMap', 'voicebot-config') as K8sObject & { data: Record<string, string> };
  const secret = find('Secret', 'voicebot-secrets') as K8sObject & { stringData: Record<string, string> };
  return { ...cm.data, ...secret.stringData, VOICEBOT_TELEPHONY__ASTERISK__RTP_HOST: '10.1.2.3' };
}
