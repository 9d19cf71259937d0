/* Voicebot call timeline: a ZAF v2 ticket-sidebar app. No build step: plain browser JavaScript. */
(function () {
  'use strict';
  var client = ZAFClient.init();
  var app = document.getElementById('app');

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // caller words are text, never markup
    return node;
  }
  function pct(v) {
    return v === null || v === undefined ? 'n/a' : Math.round(v * 100) + ' %';
  }
  function clock(ms) {
    var s = Math.floor(ms / 1000);
    return String(Math.floor(s / 60)).padStart(2, '0') + ':' + String(s % 60).padStart(2, '0');
  }
  function show(text, className) {
    app.replaceChildren(el('p', className || 'status', text));
  }

  /** The call id: the ticket's external id (voicebot-CALLID) first, else the "Voicebot: call id" field. */
  function callIdOf(settings) {
    var field = settings.callIdFieldId ? 'ticket.customField:custom_field_' + settings.callIdFieldId : null;
    var paths = field ? ['ticket.externalId', field] : ['ticket.externalId'];
    return client.get(paths).then(function (data) {
      var ext = data['ticket.externalId'];
      if (typeof ext === 'string' && ext.indexOf('voicebot-') === 0) return ext.slice('voicebot-'.length);
      return field && data[field] ? String(data[field]) : null;
    });
  }

  function render(call, botUrl) {
    var facts = el('dl', 'facts');
    function fact(name, value, badgeClass) {
      facts.append(el('dt', '', name));
      var dd = el('dd');
      dd.append(badgeClass ? el('span', 'badge ' + badgeClass, value) : document.createTextNode(value));
      facts.append(dd);
    }
    var unsure = call.nluConfidence !== null && call.nluConfidence < call.lowConfidenceBelow;
    fact('Intent', call.intent || 'not understood', call.intent ? '' : 'bad');
    fact('Confidence', pct(call.nluConfidence), unsure ? 'low' : 'good');
    fact('Outcome', call.outcome, call.outcome === 'resolved' ? 'good' : call.outcome === 'escalated' ? '' : 'bad');
    if (call.escalation) {
      fact('Escalation', call.escalation.reason + ' → ' + call.escalation.target);
      fact('Agent leg', call.escalation.outcome, call.escalation.outcome === 'answered' ? 'good' : 'bad');
    }
    fact('Duration', clock(call.durationMs));

    var audio = null;
    if (call.recording) {
      audio = el('audio');
      audio.controls = true;
      audio.preload = 'metadata';
      audio.src = botUrl + call.recording.url;
    }
    var list = el('ol', 'turns');
    var items = call.turns.map(function (turn) {
      var li = el('li', turn.speaker + (turn.low ? ' low' : ''));
      li.dataset.at = String(turn.atMs);
      li.append(el('span', 'when', clock(turn.atMs)));
      var body = el('span', 'text');
      body.append(el('span', 'who', turn.speaker === 'caller' ? 'Caller' : turn.speaker === 'bot' ? 'Bot' : 'Agent'));
      body.append(document.createTextNode(turn.text));
      li.append(body);
      if (turn.confidence !== undefined) {
        var meta = el('span', 'meta');
        meta.append(
          el('span', 'badge ' + (turn.low ? 'low' : 'good'), (turn.low ? 'low ' : '') + pct(turn.confidence)),
        );
        if (turn.intent !== undefined) meta.append(document.createTextNode(' ' + (turn.intent || 'not understood')));
        li.append(meta);
      }
      if (audio) {
        li.addEventListener('click', function () {
          audio.currentTime = turn.atMs / 1000;
          audio.play();
        });
      }
      list.append(li);
      return li;
    });
    if (audio) {
      // the line being spoken: the last turn that started at or before the playback position
      audio.addEventListener('timeupdate', function () {
        var ms = audio.currentTime * 1000;
        var current = null;
        items.forEach(function (li) {
          if (Number(li.dataset.at) <= ms) current = li;
        });
        items.forEach(function (li) {
          li.classList.toggle('current', li === current);
        });
        if (current) current.scrollIntoView({ block: 'nearest' });
      });
    }
    var parts = [facts];
    if (call.summary) parts.push(el('p', 'summary', call.summary));
    if (audio) parts.push(audio);
    parts.push(list);
    app.replaceChildren.apply(app, parts);
    client.invoke('resize', { width: '100%', height: Math.min(640, document.body.scrollHeight + 16) + 'px' });
  }

  client
    .metadata()
    .then(function (meta) {
      var settings = meta.settings || {};
      var botUrl = String(settings.botUrl || '').replace(/\/+$/, '');
      return callIdOf(settings).then(function (callId) {
        if (!callId) return show('This ticket was not filed by the voicebot.');
        // Through Zendesk's proxy: the secure token is filled in there and never reaches this page.
        return client
          .request({
            url: botUrl + '/api/calls/' + encodeURIComponent(callId),
            type: 'GET',
            headers: { Authorization: 'Bearer {{setting.botApiToken}}' },
            secure: true,
            cors: false,
            dataType: 'json',
          })
          .then(function (call) {
            render(call, botUrl);
          });
      });
    })
    .catch(function (err) {
      var status = err && err.status ? ' (' + err.status + ')' : '';
      show('Could not load the call' + status + '.', 'error');
    });
})();
