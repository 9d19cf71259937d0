import { z } from 'zod';

/** Shared helpers for per-concern config sections. Each concern owns `src/<concern>/config.ts`. */
export const port = () => z.number().int().min(1).max(65535);
export const durationMs = () => z.number().int().min(0);
export const filePath = () => z.string().min(1);
