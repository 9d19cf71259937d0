import { findProgram } from '../../src/core/programs.js';

/** The Chromium the browser suites drive: CHROMIUM_PATH, else the first of the names scripts/system-packages.json lists. */
export const CHROMIUM_PATH =
  process.env.CHROMIUM_PATH ??
  ['chromium', 'chromium-browser', 'google-chrome'].map((name) => findProgram(name)).find(Boolean) ??
  '/usr/bin/chromium';
