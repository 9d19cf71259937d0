/** Public entry point `voicebot/core`: time, waiting, errors, metrics and admission, as every concern uses them. */
export { backgroundTimer, systemClock, type Clock } from './clock.js';
export { Waiters, nextEvent, whenAborted, type WaitOptions } from './waiters.js';
export { AsyncQueue } from './async-queue.js';
export { deadline, type Deadline } from './deadline.js';
export { VoicebotError, httpErrorKind, isRetryable, type ErrorKind } from './errors.js';
export { counter, createMetrics, gauge, histogram } from './metrics.js';
export { Admission, type Permit } from './admission.js';
