/**
 * What the test process and the ARI emulator's own process (runner.ts) say to each other over IPC (remote.ts is the
 * test's side). Kept apart from runner.ts, which starts an emulator as soon as it is loaded.
 */
import type { OutboundWebsocketConfig } from './outbound.js';

export type RunnerRequest =
  | { id: number; op: 'outbound'; cfg: OutboundWebsocketConfig }
  | { id: number; op: 'place'; from: string }
  | { id: number; op: 'speak'; channelId: string; wav: string }
  | { id: number; op: 'hangup'; channelId: string }
  | { id: number; op: 'snapshot' }
  | { id: number; op: 'close' };

export interface EmulatorSnapshot {
  channels: Array<{ id: string; kind: string; name: string; inStasis: boolean; bridgeId: string | null }>;
  /** bridge ids with their member channel ids */
  bridges: Array<{ id: string; channels: string[] }>;
  /** every bridge request (create, add, remove, destroy) with its answer: who did what to a bridge left behind */
  bridgeRequests: Array<{ method: string; path: string; status: number; at: number; connection?: number }>;
  /** UnicastRTP legs not closed yet, by the bot port they send to */
  openMediaTo: number[];
  /** every outbound websocket Asterisk opened, in order */
  outboundConnections: Array<{ app: string; reconnect: boolean }>;
  appHangups: Array<{ channelId: string; reason: string }>;
}

export type RunnerEvent =
  | { type: 'ready'; username: string; password: string }
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: string; stasisFailed?: boolean }
  | { type: 'talk'; channelId: string; phase: 'start' | 'end'; at: number }
  | { type: 'ended'; channelId: string; reason: string; at: number }
  | { type: 'dialplan'; channelId: string; where: { context: string; exten: string; priority: number } };

/** A received frame counts as bot speech above this peak (as the edge benches count it). */
export const AUDIBLE_PEAK = 300;
/** This long without an audible frame ends a stretch of bot speech, ms. */
export const TALK_GAP_MS = 400;

export const wallNow = (at = performance.now()): number => performance.timeOrigin + at;
