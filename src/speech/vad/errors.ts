import { VoicebotError } from '../../core/errors.js';

/** Every native session is in use: admission control (telephony.maxConcurrentCalls) should have refused the call. */
export class VadCapacityError extends VoicebotError {
  constructor(max: number) {
    super(`all ${max} VAD sessions are in use`, {
      kind: 'busy',
      fix: 'raise telephony.maxConcurrentCalls to allow more concurrent calls',
    });
  }
}
