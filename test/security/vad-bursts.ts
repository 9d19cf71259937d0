/**
 * Child process for memory.test.ts: `node --expose-gc --import tsx vad-bursts.ts CAP CALLS` runs CALLS VAD sessions in
 * bursts of CAP through the real factory and prints one JSON line with the RSS after the first burst and after
 * all, so nothing else (the test runner, other suites) shares the measured process.
 */
import { Registry } from 'prom-client';
import { createLogger } from '../../src/log/logger.js';
import { vadConfig } from '../../src/speech/config.js';
import { createVadFactory } from '../../src/speech/vad/silero.js';
import type { Vad } from '../../src/speech/types.js';
import { VAD_MODEL } from '../helpers/fixtures.js';

const [cap, total] = process.argv.slice(2).map(Number) as [number, number];
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const rssMb = () => {
  gc(); // JS garbage is not what this measures
  return process.memoryUsage().rss / 1e6;
};
const logger = createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });
const factory = createVadFactory(
  vadConfig.parse({ modelPath: VAD_MODEL, prewarmSessions: 1 }),
  logger,
  new Registry(),
  cap,
);
const speech = new Int16Array(4_000).map((_, i) => Math.round(6000 * Math.sin(i / 5)));
const burst = (n: number) => {
  const calls: Vad[] = Array.from({ length: n }, () => factory.create());
  for (const vad of calls) vad.push(speech); // every session really runs the model
  for (const vad of calls) vad.close();
};

burst(cap);
const baselineMb = rssMb();
let calls = cap;
while (calls < total) {
  const n = Math.min(cap, total - calls);
  burst(n);
  calls += n;
}
const pool = (factory as { pool?: { size: number; inUse: number } }).pool;
console.log(JSON.stringify({ calls, baselineMb, afterMb: rssMb(), poolSize: pool?.size, inUse: pool?.inUse }));
