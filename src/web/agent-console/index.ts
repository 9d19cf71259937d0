export { registerAgentConsole, type AgentConsoleDeps, type AgentConsoleHandle } from './plugin.js';
export { LiveCalls, type LiveCall } from './live-calls.js';
