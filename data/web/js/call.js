// call.js - one call, fed by its view model (sdra.call_view/1 at GET /v1/calls/{id}/view, the
// document report.html is rendered from): the audio (one <audio> whose source is
// /v1/calls/{id}/audio, Range-served so seeking works) with a wavesurfer waveform, the
// transcript in step with it (click an utterance or a word, or press Enter on an utterance, to
// seek; arrow keys move between utterances; the utterance being played is highlighted;
// speakers coloured and named; every utterance carries data-start and data-speaker), sentiment
// per speaker (uPlot), talk metrics, objections, pain points and action items with
// jump-to-moment, the next meeting, the quality warning, what the CRM got, the email review
// (approve, then send now, schedule or save as a draft, through the outbox) and the delivery
// status, polled from the call's outbox entries while the page is open.
import WaveSurfer from '../vendor/wavesurfer.esm.js';
import uPlot from '../vendor/uPlot.esm.js';
import { api } from './api.js';
import { $, el, clear, mmss, STATUS } from './util.js';

const COLORS = ['#1f5fbf', '#b4451d', '#227a3d', '#7a2fa3', '#8a6d00']; // 4.5:1 on white
const POLL_MS = 2000;
const SLOW_POLL_MS = 15000;

function speakerInfo(view) {
  const info = {};
  (view.speakers || []).forEach((s, i) => {
    info[s.id] = { name: s.label || s.id, role: s.role || '', color: COLORS[i % COLORS.length], n: i };
  });
  return info;
}

function who(info, id) { return info[id] || { name: id || 'Speaker', color: '#444', n: 0 }; }

function seekTo(audio, t) {
  audio.currentTime = Number(t) || 0;
  if (audio.paused) audio.play().catch(() => {}); // a user gesture started it; a refusal is fine
}

function renderTranscript(view, info, audio) {
  const ol = clear($('transcript'));
  const utts = view.transcript || [];
  utts.forEach((u, i) => {
    const s = who(info, u.who_id);
    const words = el('span', { class: 'words' });
    if ((u.words || []).length) {
      u.words.forEach((w, k) => {
        if (k) words.append(' ');
        words.append(el('span', { class: 'w', dataset: { start: w.start } }, w.w));
      });
    } else {
      words.append(u.text || '');
    }
    ol.append(el('li', {
      class: 'utt spk-' + s.n, tabindex: i === 0 ? 0 : -1,
      dataset: { start: u.start, end: u.end === null ? u.start : u.end, speaker: u.who_id, i: u.i },
      'aria-label': s.name + ' at ' + u.at + ': ' + (u.text || ''),
    }, el('span', { class: 'who' }, s.name), el('span', { class: 'at' }, u.at), words));
  });
  if (!utts.length) ol.append(el('li', {}, 'No transcript yet.'));
  ol.onclick = (ev) => {
    const w = ev.target.closest('.w');
    const u = ev.target.closest('.utt');
    if (w) seekTo(audio, w.dataset.start);
    else if (u) seekTo(audio, u.dataset.start);
    if (u) focusUtt(u);
  };
  // one tab stop for the list; arrows, Home and End move through it, Enter or Space seeks
  ol.onkeydown = (ev) => {
    const u = ev.target.closest('.utt');
    if (!u) return;
    const all = [...ol.querySelectorAll('.utt')];
    const at = all.indexOf(u);
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: all.length - 1 }[ev.key];
    if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); seekTo(audio, u.dataset.start); }
    else if (to !== undefined && all[to]) { ev.preventDefault(); focusUtt(all[to]).focus(); }
  };
}

function focusUtt(u) {
  for (const x of document.querySelectorAll('#transcript .utt[tabindex="0"]')) x.tabIndex = -1;
  u.tabIndex = 0;
  return u;
}

function highlight(audio) {
  const t = audio.currentTime;
  let cur = null;
  for (const li of document.querySelectorAll('#transcript .utt')) {
    if (Number(li.dataset.start) <= t + 0.05 && t < Number(li.dataset.end) + 0.3) cur = li;
  }
  for (const li of document.querySelectorAll('#transcript .utt.current')) {
    if (li !== cur) { li.classList.remove('current'); li.removeAttribute('aria-current'); }
  }
  if (cur && !cur.classList.contains('current')) {
    cur.classList.add('current');
    cur.setAttribute('aria-current', 'true');
    if (!audio.paused) cur.scrollIntoView({ block: 'nearest' });
  }
}

function renderMetrics(view, info) {
  const dl = clear($('metrics'));
  const add = (k, v) => { dl.append(el('dt', {}, k), el('dd', {}, v)); };
  if (view.has_talk) add('Talk ratio', view.speakers.map((s) => s.label + ' ' + s.talk_pct_round + '%').join(' · '));
  if (view.duration) add('Duration', view.duration);
  const talk = Object.fromEntries((view.speakers || []).map((s) => [s.id, s.talk]));
  for (const m of view.metrics || []) {
    const id = m.who ? m.who.id : m.who_id;
    const parts = [talk[id] ? talk[id] + ' talk' : null, m.words_per_minute !== null ? m.words_per_minute + ' wpm' : null,
      m.questions !== null ? m.questions + ' questions' : null,
      m.longest_monologue ? 'longest monologue ' + m.longest_monologue : null,
      m.interruptions !== null ? m.interruptions + ' interruptions' : null];
    add(who(info, id).name, parts.filter(Boolean).join(', '));
  }
  const lm = view.longest_monologue;
  if (lm) add('Longest monologue', (lm.who ? lm.who.label : lm.who_id) + ', ' + lm.duration + (lm.at ? ' at ' + lm.at : ''));
  if (view.patience) add('Patience', view.patience + ' s');
  if (!dl.firstChild) add('Talk metrics', 'not available yet');
}

function renderSentiment(view, info) {
  const box = clear($('sentiment'));
  const series = view.sentiment_series || [];
  if (!series.length) { box.append(el('p', {}, 'No sentiment yet.')); return null; }
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((p, q) => p - q);
  const data = [xs];
  for (const s of series) {
    const at = new Map(s.points.map((p) => [p[0], p[1]]));
    data.push(xs.map((x) => (at.has(x) ? at.get(x) : null)));
  }
  const width = Math.max(260, Math.min(box.clientWidth || 320, 2000));
  const plot = new uPlot({
    width, height: 180,
    scales: { x: { time: false }, y: { range: [-1, 1] } },
    axes: [{ values: (u, v) => v.map(mmss) }, {}],
    series: [{ label: 'time', value: (u, v) => (v === null ? '' : mmss(v)) },
      ...series.map((s) => ({ label: who(info, s.id).name, stroke: who(info, s.id).color, width: 2, spanGaps: true }))],
  }, data, box);
  // follow the box's width (a phone turned, a window resized); the plot is a fixed-size canvas
  const ro = new ResizeObserver(() => {
    const w = Math.max(260, box.clientWidth);
    if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height: 180 });
  });
  ro.observe(box);
  plot.sdraResize = ro;
  box.setAttribute('role', 'img');
  box.setAttribute('aria-label', 'Sentiment over the call per speaker, from -1 to 1: ' +
    series.map((s) => who(info, s.id).name).join(', '));
  return plot;
}

function moment(audio, x, text, extra) {
  const b = x.start !== null && x.start !== undefined
    ? el('button', { type: 'button', class: 'jump', 'aria-label': 'Play from ' + x.at, on: { click: () => seekTo(audio, x.start) } }, x.at)
    : null;
  // what the learned classifiers found (not a rule) is marked for the rep to check
  const check = x.learned ? el('span', { class: 'tag learned', title: 'found by the learned classifier, not a rule: check it' }, 'check') : null;
  return el('li', {}, b, b ? ' ' : null, extra ? el('strong', {}, extra + ': ') : null, text || '', check ? ' ' : null, check);
}

function renderFindings(view, audio) {
  const lists = [['objections', view.objections, (o) => moment(audio, o, o.text, o.type_label)],
    ['pain', view.pain_points, (p) => moment(audio, p, p.text)],
    ['actions', view.action_items, (x) => moment(audio, x, x.text + (x.due ? ' (due ' + (x.due_long || x.due) + ')' : ''), x.owner_label)]];
  for (const [id, items, fn] of lists) {
    const ul = clear($(id));
    for (const x of items || []) ul.append(fn(x));
    if (!ul.firstChild) ul.append(el('li', {}, 'None.'));
  }
  const nm = view.next_meeting;
  $('next-meeting').textContent = nm ? [nm.date_long || nm.date, nm.time, nm.part_of_day].filter(Boolean).join(', ') : 'None agreed.';
}

function renderQuality(view, draft) {
  const q = view.quality;
  const msgs = [];
  if (q) {
    msgs.push('The transcript is unreliable: ' + q.low_conf_pct + '% of its words were heard with low confidence ' +
      '(estimated word error rate ' + q.wer_pct + '%). Check quotes against the audio.');
  }
  const why = (draft && draft.review_reasons && draft.review_reasons.length) ? draft.review_reasons : view.review || [];
  if (why.length) msgs.push('The email needs review: ' + why.join('; '));
  const box = $('quality');
  box.textContent = msgs.join(' ');
  box.hidden = !msgs.length;
}

// ---- when and where: times in the contact's zone, when the call names one ----

function fmtTime(iso, tz) {
  const opts = { dateStyle: 'medium', timeStyle: 'short', timeZone: tz || undefined };
  try { return new Intl.DateTimeFormat('en-GB', opts).format(new Date(iso)) + (tz ? ' (' + tz + ')' : ''); }
  catch (e) { return iso; }
}

// "2026-12-07T09:30" on the wall clocks of zone tz -> the instant, as ISO 8601 UTC
export function zonedToUtc(local, tz) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)$/.exec(local || '');
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  if (!tz) return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]).toISOString();
  const offset = (ms) => {
    const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit',
      day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - ms;
  };
  let utc = wall - offset(wall);
  utc = wall - offset(utc); // once more across a daylight-saving change
  return new Date(utc).toISOString();
}

// ---- delivery and CRM status, from the call's outbox entries ----

function mailStatus(e, tz) {
  const t = e.target || {};
  const mode = t.mode || 'send';
  switch (e.state) {
    case 'held': return ['held', 'Held for review' + (e.last_error ? ': ' + e.last_error : '') + '.'];
    case 'queued':
      if (e.send_at && Date.parse(e.send_at) > Date.now()) return ['scheduled', 'Scheduled for ' + fmtTime(e.send_at, tz) + ' (' + (mode === 'draft' ? 'as a draft' : 'to be sent') + ').'];
      return ['queued', 'Queued' + (e.attempts ? ', retrying at ' + fmtTime(e.next_attempt_at, tz) + (e.last_error ? ' after: ' + e.last_error : '') : '') + '.'];
    case 'running': return ['running', mode === 'draft' ? 'Saving as a draft now.' : 'Sending now.'];
    case 'done': return ['done', (mode === 'draft' ? 'Saved as a draft' : 'Sent') + ' ' + fmtTime(e.updated_at, tz) + (e.remote_id ? ', remote id ' + e.remote_id : '') + '.'];
    case 'dead': return ['failed', 'Failed: ' + (e.last_error || 'unknown error') + '.'];
    case 'canceled': return ['canceled', 'Canceled' + (e.last_error ? ': ' + e.last_error : '') + '.'];
    default: return [e.state, e.state];
  }
}

function renderDelivery(entries, draft, tz) {
  const box = clear($('delivery'));
  const mail = entries.filter((e) => e.kind === 'mail.deliver');
  for (const e of mail) {
    const [state, text] = mailStatus(e, tz);
    const p = el('p', { class: 'delivery-state state-' + state, dataset: { state, entry: e.id } }, 'Email via ' + (e.target.transport || 'mail') + ': ' + text);
    if (e.send_at) p.dataset.sendAt = e.send_at;
    box.append(p);
  }
  if (!mail.length) {
    const d = draft ? (draft.approved ? 'approved ' + fmtTime(draft.approved_at, tz) + '; this server delivers no email (no outbox entry)' : 'draft, not approved') : 'no email';
    box.append(el('p', { class: 'delivery-state', dataset: { state: 'none' } }, 'Email: ' + d + '.'));
  }
  for (const e of entries.filter((x) => x.kind === 'webhook' && x.state !== 'done')) {
    box.append(el('p', { class: 'sub' }, 'Webhook ' + e.target.event + ': ' + e.state + (e.last_error ? ' (' + e.last_error + ')' : '')));
  }
}

function renderCrm(view, entries, tz) {
  const box = clear($('crm'));
  const crm = view.crm;
  const ul = el('ul', { class: 'plain' });
  if (crm) {
    ul.append(el('li', {}, 'Local CRM (' + (crm.backend || 'local') + '):'));
    if (crm.contact) ul.append(el('li', {}, 'contact ' + (crm.contact.email || '') + ' ' + (crm.contact.status || '') +
      (crm.contact.do_not_email ? ', do not email' : '') + (crm.contact.do_not_call ? ', do not call' : '')));
    if (crm.activity) ul.append(el('li', {}, 'call activity ' + (crm.activity.status || '') + (crm.activity.id ? ' (' + crm.activity.id + ')' : '')));
    if (crm.tasks) ul.append(el('li', {}, crm.tasks.count + ' task' + (crm.tasks.plural ? 's' : '') + ': ' + crm.tasks.created + ' created, ' +
      crm.tasks.updated + ' updated' + (crm.tasks.removed ? ', ' + crm.tasks.removed + ' removed' : '')));
    for (const e of crm.emails || []) ul.append(el('li', {}, 'email ' + (e.status || '') + (e.send_at ? ' for ' + fmtTime(e.send_at, tz) : '')));
    for (const s of crm.skipped || []) ul.append(el('li', {}, 'not written: ' + s.what + ' (' + s.reason + ')'));
  } else {
    ul.append(el('li', {}, 'Local CRM: not synced yet.'));
  }
  for (const e of entries.filter((x) => x.kind === 'crm.sync')) {
    const name = { hubspot: 'HubSpot', salesforce: 'Salesforce' }[e.target.backend] || e.target.backend;
    const what = e.state === 'done' ? 'call activity written' + (e.remote_id ? ', record ' + e.remote_id : '')
      : e.state === 'dead' ? 'failed: ' + (e.last_error || '') : e.state === 'held' ? 'held for review'
        : e.state === 'canceled' ? 'canceled' : e.state === 'running' ? 'writing now' : 'queued';
    ul.append(el('li', { class: 'crm-remote', dataset: { state: e.state } }, name + ': ' + what));
  }
  box.append(ul);
}

// ---- the email review ----

function renderDraft(d) {
  $('email-subject').value = d.subject;
  $('email-text').value = d.text;
  $('email-eml').textContent = d.eml;
  $('email-state').textContent = d.approved ? 'Approved ' + d.approved_at : d.edited ? 'Edited, not approved' : 'Not approved';
  $('email-review').hidden = !d.needs_review;
  $('email-review').textContent = d.needs_review ? 'Needs review: ' + d.review_reasons.join('; ') : '';
}

function choice(tz) {
  const how = (document.querySelector('input[name=deliver]:checked') || {}).value || 'send';
  if (how === 'draft') return { mode: 'draft' };
  if (how === 'schedule') {
    const at = zonedToUtc($('send-at').value, tz);
    if (!at) throw new Error('choose the date and time to send it');
    return { mode: 'send', send_at: at };
  }
  return { mode: 'send' };
}

// current(): whether this view is still the page's (app.js); a view that is not stops before it
// draws anything, so a late answer never draws one call over another.
export async function showCall(id, current = () => true) {
  const base = '/v1/calls/' + id;
  const call = await api(base);
  if (!current()) return null;
  const meta = call.metadata || {};
  $('call-h').textContent = (meta.contact_name || meta.contact_email || 'Call ' + id) + (meta.company ? ', ' + meta.company : '');
  $('call-sub').textContent = [meta.call_date, meta.rep_name ? 'rep ' + meta.rep_name : '', STATUS[call.status] || call.status]
    .filter(Boolean).join(' · ');
  // the view needs the analysis; asking for it before would be a 404 in the console
  const has = new Set((call.artifacts || []).map((x) => x.name));
  const view = has.has('analysis.json') ? await api(base + '/view') : { speakers: [], transcript: [] };
  if (!current()) return null;
  const tz = (view.contact && view.contact.timezone) || meta.contact_timezone || '';
  const composed = view.email && view.email.composed;
  const draft = composed ? await api(base + '/email/draft') : null;
  if (!current()) return null;
  const info = speakerInfo(view);

  const old = $('audio');
  const audio = old.cloneNode(false); // drop the previous call's listeners
  old.replaceWith(audio);
  audio.src = base + '/audio';
  clear($('waveform'));
  const ws = WaveSurfer.create({ container: $('waveform'), media: audio, height: 64, waveColor: '#8aa4c8',
    progressColor: '#1f5fbf', cursorColor: '#111', normalize: true });
  ws.on('error', (e) => console.warn('waveform:', e && e.message ? e.message : e));
  audio.addEventListener('timeupdate', () => highlight(audio));
  audio.addEventListener('seeked', () => highlight(audio));

  renderTranscript(view, info, audio);
  renderMetrics(view, info);
  const plot = renderSentiment(view, info);
  renderFindings(view, audio);
  renderQuality(view, draft);

  // the outbox entries of the call: delivery and remote CRM status, kept current by polling
  let entries = [];
  let cur = draft;
  let timer = null;
  let gone = false;
  // every read is audited, so it polls only while something is about to change: quickly while
  // an entry is due or being sent, slowly while one is scheduled, not at all otherwise
  // only the latest poll renders: an earlier one still in flight (the timer's, when approve
  // polls at once) must not bring back the state from before the send
  let gen = 0;
  const refresh = async () => {
    clearTimeout(timer);
    timer = null;
    const mine = ++gen;
    let got = null;
    try { got = (await api('/v1/outbox?call_id=' + encodeURIComponent(id))).entries; }
    catch (e) { console.warn('outbox:', e.message); }
    if (gone || mine !== gen || !current()) return;
    if (got) entries = got;
    renderDelivery(entries, cur, tz);
    renderCrm(view, entries, tz);
    const later = (e) => e.state === 'queued' && e.send_at && Date.parse(e.send_at) > Date.now() + POLL_MS;
    const busy = entries.some((e) => e.state === 'running' || (e.state === 'queued' && !later(e)));
    if (busy || entries.some(later)) timer = setTimeout(refresh, busy ? POLL_MS : SLOW_POLL_MS);
  };
  renderDelivery([], draft, tz);
  renderCrm(view, [], tz);
  // what the view holds besides its listeners: the poll, the waveform, the chart, the player
  const stop = () => {
    gone = true;
    clearTimeout(timer);
    ws.destroy();
    if (plot) { plot.sdraResize.disconnect(); plot.destroy(); }
    audio.pause();
  };
  await refresh();
  if (!current()) { stop(); return null; }

  const form = $('email-form');
  form.hidden = !draft;
  $('email-none').hidden = !!draft;
  $('email-none').textContent = view.email && view.email.skipped ? 'No email: ' + view.email.skipped : 'No email yet.';
  $('send-at-zone').textContent = tz ? 'in the contact\'s time zone, ' + tz : 'in your time zone (the call names no zone for the contact)';
  if (draft) renderDraft(draft);
  else $('email-state').textContent = '';
  const save = async (ev) => {
    ev.preventDefault();
    try {
      const d = await api(base + '/email/draft', { method: 'PUT', body: { subject: $('email-subject').value, text: $('email-text').value } });
      cur = d;
      renderDraft(d);
      renderDelivery(entries, d, tz);
    } catch (e) { $('email-state').textContent = 'Not saved: ' + e.message; }
  };
  const approve = async () => {
    try {
      const body = choice(tz);
      const now = await api(base + '/email/draft');
      if (now.subject !== $('email-subject').value || now.text !== $('email-text').value) {
        await api(base + '/email/draft', { method: 'PUT', body: { subject: $('email-subject').value, text: $('email-text').value } });
      }
      const d = await api(base + '/email/approve', { method: 'POST', body });
      cur = d;
      renderDraft(d);
      if (d.outbox) entries = entries.filter((e) => e.id !== d.outbox.id).concat([d.outbox]);
      renderDelivery(entries, d, tz);
      refresh();
    } catch (e) { $('email-state').textContent = 'Not approved: ' + e.message; }
  };
  const pick = () => { $('send-at').disabled = !$('deliver-schedule').checked; };
  form.addEventListener('submit', save);
  $('email-approve').addEventListener('click', approve);
  form.addEventListener('change', pick);
  pick();
  return () => {
    stop();
    form.removeEventListener('submit', save);
    form.removeEventListener('change', pick);
    $('email-approve').removeEventListener('click', approve);
  };
}
