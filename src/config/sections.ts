import { z } from 'zod';

/** Shared helpers for per-concern config sections. Each concern owns `src/<concern>/config.ts`. */
export const port = () => z.number().int().min(1).max(65535);
