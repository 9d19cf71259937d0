export { registerCrmWebhooks, type CrmWebhookDeps, type CallbackRequest } from './zendesk.js';
export { verifyZendeskSignature, zendeskSignature } from './zendesk-signature.js';
