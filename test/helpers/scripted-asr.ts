/**
 * A scripted speech recogniser behind the product's real `openai` ASR provider: an OpenAI-compatible
 * `POST /v1/audio/transcriptions` on loopback that answers every utterance with a line of its own ("caller line
 * 17"), so each caller turn a bot heard shows up in a transcript, distinguishable from every other. Simulated: the
 * words are not recognised from the audio (the audio is real speech, cut by the bot's real VAD).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedAsr {
  /** the `speech.asr.openai.baseUrl` to give the bots */
  baseUrl: string;
  /** every line handed out, in order */
  readonly issued: string[];
  close(): Promise<void>;
}

export async function startScriptedAsr(): Promise<ScriptedAsr> {
  const issued: string[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/audio/transcriptions') return void res.writeHead(404).end();
      const text = `caller line ${issued.length + 1}`;
      issued.push(text);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ text, language: 'en', segments: [{ avg_logprob: -0.05 }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    issued,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
