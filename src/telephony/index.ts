/**
 * Public entry point `voicebot/telephony`: what a telephony backend (jambonz-adapter/, or a fourth one) builds on.
 * Backends import the core only through `voicebot/*` entry points (test/repo/adapter-boundary.test.ts checks it).
 */
export type {
  CallLeg,
  CallLegEvents,
  OriginateOptions,
  Party,
  SampleRate,
  TelephonyBackend,
  TransferOutcome,
  TransferRequest,
  TransferResult,
  TransferTarget,
} from './port.js';
export { CallLegBase } from './call-leg-base.js';
export { DialWait, OriginateError } from './dial-wait.js';
export { CallSupervisor, type OnCall, type Refusal, type SupervisedCall } from './supervisor.js';
export { telephonyConfig, type TelephonyConfig } from './config.js';
export { headerSafe, voicebotHeaders, type HeaderContext } from './headers.js';
