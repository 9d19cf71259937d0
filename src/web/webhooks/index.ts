export { CALLBACK_TAG, registerCrmWebhooks, ZENDESK_WEBHOOK_PATH, type CallbackRequest } from './zendesk.js';
export { zendeskSignature } from './zendesk-signature.js';
export { MemoryCallbackGuards, RedisCallbackGuards, type CallbackGuards } from './guards.js';
