import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per running app (tests make their own), exposed at GET /metrics. */
export function createMetrics(withDefaults = true): Registry {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'voicebot_process_' });
  return registry;
}

type Labels = readonly string[];

/** Get-or-create helpers so each concern declares its own series on the shared registry. */
export function counter(registry: Registry, name: string, help: string, labelNames: Labels = []): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
}

export function gauge(registry: Registry, name: string, help: string, labelNames: Labels = []): Gauge<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<string>;
  return new Gauge({ name, help, labelNames: [...labelNames], registers: [registry] });
}

export function histogram(
  registry: Registry,
  name: string,
  help: string,
  buckets: number[],
  labelNames: Labels = [],
): Histogram<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<string>;
  return new Histogram({ name, help, buckets, labelNames: [...labelNames], registers: [registry] });
}
