export { registerCrmWebhooks, type CallbackRequest } from './zendesk.js';
export { zendeskSignature } from './zendesk-signature.js';
export { MemoryCallbackGuards, RedisCallbackGuards, type CallbackGuards } from './guards.js';
