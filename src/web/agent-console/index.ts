export { registerAgentConsole, type AgentConsoleHandle } from './plugin.js';
