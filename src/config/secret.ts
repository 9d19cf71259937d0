import { z } from 'zod';
import { inspect } from 'node:util';
import { UNEXPANDED } from './expand.js';

const MASK = '********';

/**
 * A configuration secret. It prints as a mask everywhere (toString, JSON, util.inspect, pino),
 * so the only way to get the value is to ask for it by name with reveal().
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return MASK;
  }
  toJSON(): string {
    return MASK;
  }
  [inspect.custom](): string {
    return MASK;
  }
}

export const SECRET_MASK = MASK;

/** zod type for a required secret: a non-empty string turned into a Secret. */
export const secret = () =>
  z
    .preprocess(
      (v) => (v instanceof Secret ? v.reveal() : v),
      z
        .string({ error: (iss) => (iss.input === undefined ? 'required secret is missing' : 'must be a string') })
        .min(1, 'secret must not be empty')
        // A placeholder that reached here unexpanded (env var, override) would become a guessable secret.
        .refine((v) => !UNEXPANDED.test(v), 'looks like an unexpanded ${VAR} placeholder: set the real value'),
    )
    .transform((v) => new Secret(v));
