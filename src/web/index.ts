/** Public entry point `voicebot/web`: the web server a backend mounts its routes on. */
export { createWebServer, type WebServerDeps } from './server.js';
