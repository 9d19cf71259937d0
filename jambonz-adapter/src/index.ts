export { createJambonzBackend, JambonzBackend, HOOKS } from './backend.js';
export type { JambonzConfig, JambonzDeps, JambonzStats, UrlBase } from './backend.js';
export { registerJambonz } from './routes.js';
export type { JambonzRouteDeps } from './routes.js';
export { signWebhook, verifyWebhookSignature } from './signature.js';
export { listenVerb, dialVerb, hangupVerb, type JambonzVerb } from './verbs.js';
export { AUDIO_SUBPROTOCOLS } from './audio-socket.js';
export { WS_API_SUBPROTOCOL } from './ws-api.js';
export type { PacerFactory, FramePacer } from './pacer.js';
