// Browser test call: microphone → 16 kHz L16 over a WebSocket → the bot; bot audio (16 kHz L16) → WebAudio.
// window.testCall mirrors what the page shows, so automated browser tests can read it.
const SAMPLE_RATE = 16000;
const PLAYOUT_LEAD_S = 0.06;

const $ = (id) => document.getElementById(id);
const ui = {
  call: $('call'),
  hangup: $('hangup'),
  connection: $('connection'),
  botState: $('bot-state'),
  playback: $('playback'),
  intent: $('intent'),
  transcript: $('transcript'),
  escalation: $('escalation'),
  escalationText: $('escalation-text'),
  record: $('record'),
  recordJson: $('record-json'),
  error: $('error'),
  turns: $('turns'),
  turnRows: $('turn-rows'),
  speaker: $('speaker'),
};

/** Below this ASR confidence a caller line is marked (the dialog's default low-confidence threshold). */
const LOW_CONFIDENCE = 0.45;

const state = {
  connection: 'idle',
  callId: null,
  botState: null,
  receivedSamples: 0,
  sentFrames: 0,
  playing: false,
  transcript: [],
  intents: [],
  escalations: [],
  record: null,
  endedReason: null,
  /** per answered turn: { totalMs, stages: { endpointingMs, asrMs, nluMs, ttsMs } } */
  turns: [],
  /** the message shown, with its kind: microphone-blocked, no-microphone, insecure-context, server-unreachable, connection-lost, busy */
  error: null,
};
window.testCall = state;

let ws = null;
let ctx = null;
let mic = null;
let capture = null;
let playhead = 0;
const sources = new Set();

function setConnection(value) {
  state.connection = value;
  ui.connection.textContent = value;
  ui.connection.dataset.value = value;
  const active = value === 'connecting' || value === 'in-call';
  ui.call.disabled = active;
  ui.hangup.disabled = !active;
}

function setPlaying(playing) {
  state.playing = playing;
  ui.playback.dataset.playing = String(playing);
  ui.playback.textContent = `${playing ? 'playing' : 'silent'} · ${(state.receivedSamples / SAMPLE_RATE).toFixed(1)} s received`;
}

function playFrame(buffer) {
  const pcm = new Int16Array(buffer);
  if (pcm.length === 0 || !ctx) return;
  const f32 = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) f32[i] = pcm[i] / 32768;
  const audio = ctx.createBuffer(1, f32.length, SAMPLE_RATE);
  audio.copyToChannel(f32, 0);
  const src = ctx.createBufferSource();
  src.buffer = audio;
  src.connect(ctx.destination);
  const at = Math.max(ctx.currentTime + PLAYOUT_LEAD_S, playhead);
  src.start(at);
  playhead = at + audio.duration;
  sources.add(src);
  src.onended = () => {
    sources.delete(src);
    if (sources.size === 0) setPlaying(false);
  };
  state.receivedSamples += pcm.length;
  setPlaying(true);
}

/** Barge-in: the server dropped its queue, so drop ours too. */
function clearPlayback() {
  for (const src of sources) {
    src.onended = null;
    try {
      src.stop();
    } catch {
      // already stopped
    }
  }
  sources.clear();
  playhead = 0;
  setPlaying(false);
}

function showError(kind, message) {
  state.error = { kind, message };
  ui.error.hidden = false;
  ui.error.dataset.kind = kind;
  ui.error.textContent = message;
}

function clearError() {
  state.error = null;
  ui.error.hidden = true;
  ui.error.textContent = '';
  delete ui.error.dataset.kind;
}

function addTranscript(entry) {
  state.transcript.push(entry);
  const li = document.createElement('li');
  li.dataset.speaker = entry.speaker;
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = entry.speaker;
  li.append(who, document.createTextNode(entry.text || '(no words recognised)'));
  if (typeof entry.confidence === 'number') {
    const conf = document.createElement('span');
    conf.className = 'confidence';
    conf.dataset.low = String(entry.confidence < LOW_CONFIDENCE);
    conf.textContent = `confidence ${entry.confidence.toFixed(2)}`;
    conf.title = 'speech recognition confidence (0–1)';
    li.append(conf);
  }
  if (entry.interrupted) li.title = 'interrupted';
  ui.transcript.append(li);
}

function addTurn(event) {
  const turn = { totalMs: event.totalMs, stages: event.stages };
  state.turns.push(turn);
  ui.turns.hidden = false;
  const tr = document.createElement('tr');
  const { endpointingMs, asrMs, nluMs, ttsMs } = event.stages;
  // the turn number, then each duration (a duration can equal the turn number, so they are labelled by position)
  const cells = [
    String(state.turns.length),
    ...[event.totalMs, endpointingMs, asrMs, nluMs, ttsMs].map((ms) => `${ms} ms`),
  ];
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  ui.turnRows.append(tr);
}

function onEvent(event) {
  switch (event.type) {
    case 'state':
      state.botState = event.to;
      ui.botState.textContent = event.to;
      break;
    case 'transcript':
      if (!event.partial) addTranscript(event.entry);
      break;
    case 'intent':
      state.intents.push(event);
      ui.intent.textContent = event.intent ? `${event.intent} (${event.confidence.toFixed(2)})` : 'none';
      break;
    case 'escalation':
      state.escalations.push(event);
      ui.escalation.hidden = false;
      ui.escalationText.textContent = `Hand-over to "${event.target}" (${event.address}): ${event.reason}`;
      break;
    case 'turn-latency':
      addTurn(event);
      break;
    case 'call-ended':
      state.record = event.record;
      ui.record.hidden = false;
      ui.recordJson.textContent = JSON.stringify(event.record, null, 2);
      break;
    default:
      break;
  }
}

function onControl(msg) {
  switch (msg.type) {
    case 'ready':
      state.callId = msg.callId;
      setConnection('in-call');
      break;
    case 'event':
      onEvent(msg.event);
      break;
    case 'clear':
      clearPlayback();
      break;
    case 'transfer':
      ui.escalation.hidden = false;
      if (msg.listening) {
        // agentStaysSilent: the bot stays on the line, muted; you play the agent as well as the caller
        ui.escalationText.textContent += ` — you are the agent now too: the bot listens, muted, and transcribes both voices.`;
        ui.speaker.hidden = false;
      } else {
        ui.escalationText.textContent += ` — a browser call cannot dial ${msg.target.address} (outcome: ${msg.outcome}).`;
      }
      break;
    case 'ended':
      state.endedReason = msg.reason;
      if (msg.reason === 'busy') showError('busy', 'The bot is busy with other test calls; try again shortly.');
      break;
    default:
      break;
  }
}

/** What went wrong with the microphone, in words a caller can act on. */
function microphoneProblem(err) {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return [
        'microphone-blocked',
        'The microphone is blocked for this page. Allow it (the microphone or lock icon in the address bar, then ' +
          '"Allow"), and press "Call the bot" again.',
      ];
    case 'NotFoundError':
    case 'OverconstrainedError':
      return [
        'no-microphone',
        'No microphone was found. Plug one in (or pick one in your system settings) and call again.',
      ];
    case 'NotReadableError':
    case 'AbortError':
      return [
        'no-microphone',
        'The microphone is in use by another program or failed to start. Close it there and call again.',
      ];
    default:
      return ['no-microphone', `The microphone could not be opened: ${err?.message ?? err}`];
  }
}

async function startCall() {
  clearError();
  setConnection('connecting');
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    showError(
      'insecure-context',
      `Browsers only give the microphone to pages on localhost or HTTPS. Open http://localhost:${location.port || 80}/ ` +
        'on the machine running the bot (from elsewhere: ssh -L 3000:localhost:3000 that-machine), or put the bot behind HTTPS.',
    );
    await teardown('no-microphone');
    return;
  }
  try {
    mic = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (err) {
    const [kind, message] = microphoneProblem(err);
    showError(kind, message);
    await teardown('no-microphone');
    return;
  }
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${scheme}://${location.host}/test-call/ws`;
  const unreachable = (what) =>
    showError(
      'server-unreachable',
      `Cannot reach the voicebot server at ${what}. Is \`voicebot start\` running, and is this the address it serves ` +
        '(web.host, web.port)? Then call again.',
    );
  try {
    ctx = new AudioContext();
    // the capture module comes from the server: failing to load it is the first sign the server is gone
    await ctx.audioWorklet.addModule('/test-call/capture-worklet.js');
    await ctx.resume();
  } catch {
    unreachable(`${location.origin}/test-call/capture-worklet.js`);
    await teardown('unreachable');
    return;
  }
  ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  let opened = false;
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') onControl(JSON.parse(ev.data));
    else playFrame(ev.data);
  };
  ws.onclose = (ev) => {
    if (!opened) {
      unreachable(url);
    } else if (!state.endedReason && ev.code !== 1000) {
      showError(
        'connection-lost',
        `The connection to the voicebot server was lost (code ${ev.code}). The call has ended.`,
      );
    }
    void teardown(state.endedReason ?? (opened ? 'closed' : 'unreachable'));
  };
  ws.onopen = () => {
    opened = true;
    capture = new AudioWorkletNode(ctx, 'l16-capture', { numberOfInputs: 1, numberOfOutputs: 0 });
    capture.port.onmessage = (ev) => {
      if (ws && ws.readyState === WebSocket.OPEN) {
        ws.send(ev.data);
        state.sentFrames++;
      }
    };
    ctx.createMediaStreamSource(mic).connect(capture);
  };
}

async function teardown(reason) {
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'hangup');
  ws = null;
  if (capture) capture.port.onmessage = null;
  capture = null;
  mic?.getTracks().forEach((t) => t.stop());
  mic = null;
  clearPlayback();
  const closing = ctx;
  ctx = null;
  if (closing) await closing.close();
  state.endedReason = state.endedReason ?? reason;
  setConnection('ended');
}

ui.call.addEventListener('click', () => {
  state.transcript = [];
  state.intents = [];
  state.escalations = [];
  state.record = null;
  state.endedReason = null;
  state.receivedSamples = 0;
  state.turns = [];
  ui.transcript.replaceChildren();
  ui.turnRows.replaceChildren();
  ui.turns.hidden = true;
  ui.escalation.hidden = true;
  ui.escalationText.textContent = '';
  ui.speaker.hidden = true;
  ui.speaker.textContent = 'Speak as the agent';
  ui.record.hidden = true;
  void startCall();
});

// After a listening hand-off (agentStaysSilent) you play both people: this says whose voice the microphone is.
ui.speaker.addEventListener('click', () => {
  const agent = ui.speaker.textContent === 'Speak as the agent';
  if (ws && ws.readyState === WebSocket.OPEN)
    ws.send(JSON.stringify({ type: 'speaker', speaker: agent ? 'agent' : 'caller' }));
  ui.speaker.textContent = agent ? 'Speak as the caller' : 'Speak as the agent';
});

// DTMF: the configured escalation digit (default 0) asks for a person
for (const key of document.querySelectorAll('#keypad button')) {
  key.addEventListener('click', () => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'dtmf', digit: key.textContent }));
  });
}

ui.hangup.addEventListener('click', () => {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'hangup' }));
  void teardown('hangup');
});
