import type { DeliveryContext } from './sink.js';
import { DeliveryMismatchError } from './errors.js';

/** What a lookup needs from the delivery: its logger and the anomaly counter. */
export type LookupContext = Pick<DeliveryContext, 'logger' | 'anomaly'>;

const byId = (a: { id: number | string }, b: { id: number | string }) =>
  Number(a.id) - Number(b.id) || String(a.id).localeCompare(String(b.id));

/**
 * The one record of a lookup's answer that is really ours. Servers and proxies can answer with unrelated records,
 * and CRM ids we search by need not be unique: only exact matches count; none → undefined (create it); several →
 * the lowest id, logged and counted, never "the first one".
 */
export function pickExact<T extends { id: number | string }>(
  found: readonly T[],
  isOurs: (record: T) => boolean,
  what: { vendor: string; noun: string },
  ctx: LookupContext,
): T | undefined {
  const exact = found.filter(isOurs).sort(byId);
  const ignored = found.length - exact.length;
  if (ignored > 0) {
    ctx.anomaly('unrelated_results');
    ctx.logger.warn({ ignored, noun: what.noun }, `${what.vendor}: lookup returned records that do not match; ignored`);
  }
  const chosen = exact[0];
  if (exact.length > 1) {
    ctx.anomaly('several_exact');
    ctx.logger.warn(
      { ids: exact.map((r) => r.id), chosen: chosen!.id },
      `${what.vendor}: several ${what.noun} match; using the lowest id`,
    );
  }
  return chosen;
}

/** A write's answer must be about what we asked for; anything else fails the attempt (it is never a success). */
export function expectEcho(ok: boolean, what: string): void {
  if (!ok) throw new DeliveryMismatchError(what);
}
