/**
 * Readiness: whether this instance should be sent traffic now, as opposed to liveness (/healthz: the process answers).
 *
 * Each component that can be up or down after start-up (Redis, the telephony link, …) registers its state here under
 * its own name; the instance is ready only when every registered component is. A component that was never registered
 * does not hold the instance back, so concerns that are not configured need not say anything.
 */
export interface ComponentState {
  ready: boolean;
  /** why it is not ready (or a short note when it is), shown in /readyz */
  reason?: string;
}

export interface ReadinessSnapshot {
  ready: boolean;
  components: Record<string, ComponentState>;
}

export class Readiness {
  readonly #components = new Map<string, ComponentState>();
  readonly #listeners = new Set<(snapshot: ReadinessSnapshot) => void>();

  /** Record a component's state; listeners hear about it only when something changed. */
  set(component: string, ready: boolean, reason?: string): void {
    const before = this.#components.get(component);
    if (before && before.ready === ready && before.reason === reason) return;
    this.#components.set(component, reason === undefined ? { ready } : { ready, reason });
    const snapshot = this.snapshot();
    for (const listener of this.#listeners) listener(snapshot);
  }

  /** Forget a component (it was shut down on purpose, so it no longer holds the instance back). */
  delete(component: string): void {
    if (this.#components.delete(component)) {
      const snapshot = this.snapshot();
      for (const listener of this.#listeners) listener(snapshot);
    }
  }

  get ready(): boolean {
    for (const state of this.#components.values()) if (!state.ready) return false;
    return true;
  }

  snapshot(): ReadinessSnapshot {
    const components: Record<string, ComponentState> = {};
    for (const [name, state] of [...this.#components].sort(([a], [b]) => a.localeCompare(b)))
      components[name] = { ...state };
    return { ready: this.ready, components };
  }

  /** Hear every change (metrics, logs). Returns the unsubscribe function. */
  onChange(listener: (snapshot: ReadinessSnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
