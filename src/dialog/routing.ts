import type { TransferTarget } from '../telephony/port.js';
import type { DialogConfig } from './config.js';

export interface Route {
  /** routing target name from config */
  name: string;
  target: TransferTarget;
}

/** intent → its `route`, else `routing.default`. Config validation guarantees both names exist. */
export function routeFor(config: Pick<DialogConfig, 'intents' | 'routing'>, intent: string | null): Route {
  const wanted = config.intents.find((i) => i.name === intent)?.route;
  const name = wanted && config.routing.targets[wanted] ? wanted : config.routing.default;
  const target = config.routing.targets[name];
  if (!target) throw new Error(`routing target "${name}" is not configured`);
  return { name, target: { kind: target.kind, address: target.address, timeoutSec: target.timeoutSec } };
}
