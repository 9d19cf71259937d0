import { mulberry32 } from '../http-util.js';

/**
 * What a real network does to an RTP leg, applied to packets as they leave: loss, reordering (a packet is held and
 * sent after the next one), duplicates and jitter (each packet delayed by up to `jitterMs`, which reorders, too).
 * Rates are probabilities per packet; a seeded generator makes a run repeatable.
 */
export interface NetworkImpairment {
  loss?: number;
  reorder?: number;
  duplicate?: number;
  jitterMs?: number;
  seed?: number;
}

export interface ImpairmentStats {
  lost: number;
  reordered: number;
  duplicated: number;
  delayed: number;
}

export class ImpairedLink {
  readonly stats: ImpairmentStats = { lost: 0, reordered: 0, duplicated: 0, delayed: 0 };
  #held: Buffer | null = null;
  #rand: () => number;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly opts: NetworkImpairment,
    private readonly send: (packet: Buffer) => void,
  ) {
    this.#rand = mulberry32(opts.seed ?? 1);
  }

  push(packet: Buffer): void {
    const { loss = 0, reorder = 0, duplicate = 0 } = this.opts;
    if (this.#rand() < loss) {
      this.stats.lost++;
      return;
    }
    if (!this.#held && this.#rand() < reorder) {
      this.#held = packet; // goes out after the next one
      this.stats.reordered++;
      return;
    }
    this.#out(packet);
    if (this.#rand() < duplicate) {
      this.stats.duplicated++;
      this.#out(packet);
    }
    const held = this.#held;
    this.#held = null;
    if (held) this.#out(held);
  }

  #out(packet: Buffer): void {
    const jitter = this.opts.jitterMs ?? 0;
    if (jitter <= 0) return this.send(packet);
    const delay = this.#rand() * jitter;
    if (delay < 1) return this.send(packet);
    this.stats.delayed++;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.send(packet);
    }, delay);
    this.#timers.add(t);
  }

  /** Packets held back for reordering that have not left yet (1 at most): in flight, neither sent nor lost. */
  get holding(): number {
    return this.#held ? 1 : 0;
  }

  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#held = null;
  }
}
