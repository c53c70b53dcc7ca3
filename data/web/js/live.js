// live.js - live calls (docs/live.md, docs/web.md "Live calls"): the organisation's calls
// streaming in now (GET /v1/live/calls, polled), and one call's live page fed by
// GET /v1/live/{callSid}/events (SSE, read with fetch and the key like the calls' events): the
// transcript scrolling in (`partial` shown greyed in its speaker's place until the final
// `utterance` replaces it), alerts as cards newest first in a live region, the running metrics,
// and on `done` a link to the call's page. Text from the call goes in with textContent only.
import { api, stream } from './api.js';
import { $, el, clear, mmss, pct } from './util.js';

const LIST_POLL_MS = 3000;
const STATE = { streaming: 'Streaming', reconnecting: 'Waiting for a reconnect', ending: 'Ending' };
const ROLE = { rep: 'Rep', prospect: 'Prospect' };
const KIND = {
  objection: 'Objection', monologue: 'Monologue', talk_ratio: 'Talk ratio', silence: 'Silence',
  unanswered_question: 'Unanswered question', do_not_call: 'Do not call',
};

// ---- the list ----

async function loadList() {
  const doc = await api('/v1/live/calls');
  const body = clear($('live-body'));
  for (const c of doc.calls) {
    const name = c.contact_name || c.contact_email || c.call_sid;
    body.append(el('tr', { 'data-call-sid': c.call_sid },
      el('td', {}, el('a', { href: '#/live/' + encodeURIComponent(c.call_sid) }, name)),
      el('td', {}, c.company || ''), el('td', {}, c.rep_name || ''),
      el('td', {}, mmss(c.duration_s)), el('td', { class: 'status status-running' }, STATE[c.state] || c.state)));
  }
  $('live-empty').textContent = doc.calls.length ? '' : 'No live calls in progress.';
}

export async function showLive() {
  let timer = null;
  let gone = false;
  const tick = async () => {
    try { await loadList(); } catch (e) { if (e.status === 401) throw e; console.warn('live calls:', e.message); }
    if (!gone) timer = setTimeout(() => { tick().catch(() => {}); }, LIST_POLL_MS);
  };
  await tick();
  return () => { gone = true; clearTimeout(timer); };
}

// ---- one call ----

function who(d) {
  const role = ROLE[d.role] || '';
  return role ? role + (d.speaker ? ' (' + d.speaker + ')' : '') : d.speaker || 'Speaker';
}

function roleClass(d) { return d.role === 'prospect' ? 'spk-1' : 'spk-0'; }

// Keeps the transcript at its end while it grows, unless the reader has scrolled up.
function atEnd(ol) { return ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40; }

// Inserts li by its start time (the two channels finish utterances out of order).
function place(ol, li) {
  const t = Number(li.dataset.start);
  let after = null;
  for (const n of ol.children) if (Number(n.dataset.start) > t) { after = n; break; }
  ol.insertBefore(li, after);
}

function line(d, cls) {
  return el('li', {
    class: 'utt ' + roleClass(d) + (cls ? ' ' + cls : ''),
    dataset: { start: d.start, speaker: d.speaker || '', role: d.role || '' },
  }, el('span', { class: 'who' }, who(d)), el('span', { class: 'at' }, mmss(d.start)),
  el('span', { class: 'text' }, d.text || ''));
}

function onUtterance(d, partial) {
  const ol = $('lc-transcript');
  const follow = atEnd(ol);
  const key = d.speaker || d.role || '';
  const old = [...ol.querySelectorAll('li.partial')].find((n) => n.dataset.speaker === key || n.dataset.role === key);
  if (old) old.remove();
  const li = partial ? line(d, 'partial') : line(d, '');
  if (partial) {
    li.dataset.speaker = key;
    li.setAttribute('aria-label', who(d) + ', still speaking: ' + (d.text || ''));
  }
  place(ol, li);
  if (follow) ol.scrollTop = ol.scrollHeight;
}

function alertCard(d) {
  const kind = KIND[d.kind] || d.kind;
  const title = d.kind === 'objection' && d.type ? kind + ': ' + d.type.replace('_', ' ') : kind;
  const li = el('li', { class: 'alert-card alert-' + d.kind, dataset: { kind: d.kind, type: d.type || '' } },
    el('p', { class: 'alert-head' }, el('strong', {}, title), ' ', el('time', { class: 'at' }, mmss(d.at))));
  const say = (cls, t) => { if (t) li.append(el('p', { class: cls }, t)); };
  switch (d.kind) {
  case 'objection':
    say('quote', '“' + (d.text || '') + '”');
    if (d.battlecard) {
      li.append(el('div', { class: 'battlecard' }, el('p', { class: 'bc-label' }, d.battlecard.label || 'Talking point'),
        el('p', {}, d.battlecard.point || '')));
    }
    break;
  case 'monologue': say('', 'The rep has talked for ' + Math.round(d.seconds || 0) + ' s without a prospect turn.'); break;
  case 'talk_ratio':
    say('', 'Rep share of the talk ' + pct(d.rep_share) + ', outside ' + pct(d.low) + '–' + pct(d.high) + '.');
    break;
  case 'silence': say('', 'Nobody has spoken for ' + Math.round(d.seconds || 0) + ' s.'); break;
  case 'unanswered_question': say('quote', '“' + (d.text || '') + '”'); say('', 'The prospect asked this and has no answer yet.'); break;
  case 'do_not_call': say('quote', '“' + (d.text || '') + '”'); say('', 'The prospect asked not to be contacted.'); break;
  default: break;
  }
  return li;
}

function signed(x) { const v = Number(x) || 0; return (v > 0 ? '+' : '') + v.toFixed(2); }

function showMetrics(m) {
  const dl = clear($('lc-metrics'));
  const add = (k, v, id) => { dl.append(el('dt', {}, k), el('dd', { id }, v)); };
  const tr = m.talk_ratio || {};
  const se = m.sentiment || {};
  add('Talk ratio', 'Rep ' + pct(tr.rep) + ' · Prospect ' + pct(tr.prospect), 'lc-talk');
  add('Sentiment', 'Rep ' + signed(se.rep) + ' · Prospect ' + signed(se.prospect), 'lc-sentiment');
  add('Utterances', String(m.utterances || 0), 'lc-utts');
  add('Lag', (Number(m.lag_s) || 0).toFixed(1) + ' s', 'lc-lag');
}

function onDone(d) {
  const box = clear($('lc-done'));
  box.hidden = false;
  for (const n of $('lc-transcript').querySelectorAll('li.partial')) n.remove();
  if (d.status === 'queued' || d.status === 'done') {
    $('lc-state').textContent = 'The call has ended (' + mmss(d.duration_s) + '). Its follow-up package is being made.';
    box.append(el('p', {}, 'The transcript, analysis, email and report: ',
      el('a', { href: '#/calls/' + encodeURIComponent(d.id), id: 'lc-done-link' }, 'open the call')));
  } else if (d.status === 'empty') {
    $('lc-state').textContent = 'The call has ended. No audio came, so nothing was stored.';
  } else {
    $('lc-state').textContent = 'The call has ended, but it could not be stored: ' + (d.error || d.status);
  }
}

export async function showLiveCall(sid) {
  $('lc-sub').textContent = 'Call ' + sid;
  $('lc-state').textContent = 'Connecting…';
  $('lc-done').hidden = true;
  clear($('lc-transcript'));
  clear($('lc-alerts'));
  clear($('lc-metrics'));
  $('lc-no-alerts').hidden = false;
  let ended = false;
  api('/v1/live/calls').then((doc) => {
    const c = doc.calls.find((x) => x.call_sid === sid);
    if (c) $('lc-sub').textContent = [c.contact_name || c.contact_email, c.company, c.rep_name && 'rep ' + c.rep_name]
      .filter(Boolean).join(' · ') + ' · call ' + sid;
  }).catch(() => {});
  const stop = stream('/v1/live/' + encodeURIComponent(sid) + '/events', (type, d) => {
    if (!ended && $('lc-state').textContent === 'Connecting…') $('lc-state').textContent = 'Live: the transcript follows the call.';
    if (type === 'utterance') onUtterance(d, false);
    else if (type === 'partial') onUtterance(d, true);
    else if (type === 'alert') { $('lc-no-alerts').hidden = true; $('lc-alerts').prepend(alertCard(d)); }
    else if (type === 'metrics') showMetrics(d);
    else if (type === 'done') { ended = true; onDone(d); }
  }, (status) => {
    if (ended) return;
    $('lc-state').textContent = status === 404
      ? 'No live call ' + sid + ' (it never started here, or ended more than 10 minutes ago: see Calls).'
      : 'The live stream stopped before the call ended; reload to follow it again.';
  });
  return stop;
}
