/**
 * The agent console page: a live calls list, and a screen pop when a call is escalated to the target this
 * agent picked (?target=NAME, remembered in localStorage). Plain DOM, textContent only (no HTML injection).
 */
export const AGENT_CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Voicebot agent console</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 16px; display: flex; gap: 16px; align-items: center; }
  header h1 { font-size: 16px; margin: 0; flex: 1; }
  header input { width: 140px; }
  main { display: grid; grid-template-columns: 1fr 1.3fr; gap: 16px; padding: 16px; }
  section { background: #fff; border-radius: 6px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
  table { width: 100%; border-collapse: collapse; }
  td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eee; }
  tr.escalated td { background: #fff4e0; }
  #pop { border: 2px solid #e0671f; }
  #pop[hidden] { display: none; }
  #pop h2 { margin-top: 0; color: #e0671f; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; }
  dt { font-weight: 600; }
  #transcript { max-height: 320px; overflow-y: auto; background: #fafafa; padding: 8px; border-radius: 4px; }
  #transcript p { margin: 2px 0; }
  .who { font-weight: 600; }
  .partial { color: #888; font-style: italic; }
  #status { font-size: 12px; opacity: .8; }
</style>
</head>
<body>
<header>
  <h1>Voicebot agent console</h1>
  <label>My target <input id="target" name="target" autocomplete="off"></label>
  <span id="status">connecting…</span>
</header>
<main>
  <section>
    <h2>Live calls</h2>
    <table>
      <thead><tr><th>Caller</th><th>State</th><th>Intent</th><th>Escalated to</th></tr></thead>
      <tbody id="calls"></tbody>
    </table>
  </section>
  <section id="pop" hidden>
    <h2>Incoming escalation</h2>
    <dl>
      <dt>Caller</dt><dd id="pop-phone"></dd>
      <dt>Intent</dt><dd id="pop-intent"></dd>
      <dt>Confidence</dt><dd id="pop-confidence"></dd>
      <dt>Reason</dt><dd id="pop-reason"></dd>
      <dt>Summary</dt><dd id="pop-summary"></dd>
      <dt>Ticket</dt><dd id="pop-ticket">pending…</dd>
      <dt>Recording</dt><dd id="pop-recording">not yet</dd>
      <dt>Status</dt><dd id="pop-status"></dd>
    </dl>
    <h3>Transcript</h3>
    <div id="transcript"></div>
  </section>
</main>
<script>
(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  const withToken = (path) => token ? path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : path;
  const targetInput = document.getElementById('target');
  targetInput.value = params.get('target') || localStorage.getItem('voicebot.target') || 'agent';
  targetInput.addEventListener('change', () => { localStorage.setItem('voicebot.target', targetInput.value.trim()); render(); });
  const calls = new Map();
  let poppedId = null;
  const $ = (id) => document.getElementById(id);
  const set = (id, text) => { $(id).textContent = text; };
  const pct = (v) => v == null ? 'n/a' : Math.round(v * 100) + ' %';
  const mine = (c) => c.escalation && !c.ended && (c.escalation.target === targetInput.value.trim() || c.escalation.address === targetInput.value.trim());

  function renderList() {
    const body = $('calls');
    body.replaceChildren();
    for (const c of calls.values()) {
      const tr = document.createElement('tr');
      tr.dataset.callId = c.callId;
      if (c.escalation) tr.className = 'escalated';
      const state = c.botLost ? 'bot lost, waiting for takeover' : c.state;
      for (const text of [c.phone || '?', state, c.intent || '', c.escalation ? c.escalation.target : '']) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      body.append(tr);
    }
  }

  function renderPop() {
    if (!poppedId) {
      const candidate = [...calls.values()].find(mine);
      if (candidate) poppedId = candidate.callId;
    }
    const c = poppedId && calls.get(poppedId);
    const pop = $('pop');
    if (!c) { pop.hidden = true; pop.removeAttribute('data-call-id'); return; }
    pop.dataset.callId = c.callId;
    set('pop-phone', c.phone);
    set('pop-intent', c.intent || 'unknown');
    set('pop-confidence', pct(c.confidence));
    set('pop-reason', c.escalation ? c.escalation.reason : '');
    set('pop-summary', c.summary || '');
    set('pop-status', c.ended ? 'call ended (' + (c.outcome || '') + ')' : (c.escalation && c.escalation.outcome) || 'ringing you');
    const ticket = $('pop-ticket');
    if (c.ticket) {
      ticket.replaceChildren();
      const a = document.createElement(c.ticket.url ? 'a' : 'span');
      if (c.ticket.url) { a.href = c.ticket.url; a.target = '_blank'; a.rel = 'noopener'; }
      a.textContent = c.ticket.sink + ' #' + c.ticket.id;
      ticket.append(a);
    }
    const rec = $('pop-recording');
    if (c.hasRecording) {
      rec.replaceChildren();
      const audio = document.createElement('audio');
      audio.controls = true;
      audio.src = withToken('/agent/recording/' + encodeURIComponent(c.callId));
      rec.append(audio);
    }
    const t = $('transcript');
    t.replaceChildren();
    for (const e of c.transcript) {
      const p = document.createElement('p');
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = e.speaker + ': ';
      p.append(who, document.createTextNode(e.text));
      t.append(p);
    }
    if (c.partial) {
      const p = document.createElement('p');
      p.className = 'partial';
      p.textContent = 'caller: ' + c.partial + ' …';
      t.append(p);
    }
    t.scrollTop = t.scrollHeight;
    pop.hidden = false;
  }

  function render() { renderList(); renderPop(); }

  const es = new EventSource(withToken('/agent/events'));
  es.onopen = () => set('status', 'live');
  es.onerror = () => set('status', 'reconnecting…');
  es.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === 'snapshot') { calls.clear(); for (const c of msg.calls) calls.set(c.callId, c); }
    else if (msg.type === 'call') calls.set(msg.call.callId, msg.call);
    else if (msg.type === 'removed') { calls.delete(msg.callId); if (poppedId === msg.callId) poppedId = null; }
    render();
  };
})();
</script>
</body>
</html>
`;
