// call.js - one call: the audio (one <audio> whose source is /v1/calls/{id}/audio, Range-served
// so seeking works) with a wavesurfer waveform, the transcript in step with it (click an
// utterance or a word to seek; the utterance being played is highlighted; speakers coloured and
// named; every utterance carries data-start and data-speaker), sentiment per speaker (uPlot),
// talk metrics, objections, pain points and action items with jump-to-moment, the next meeting,
// the transcript's quality warning, CRM and delivery status, and the email review.
import WaveSurfer from '../vendor/wavesurfer.esm.js';
import uPlot from '../vendor/uPlot.esm.js';
import { api } from './api.js';
import { $, el, clear, mmss, pct, STATUS } from './util.js';

const COLORS = ['#1f5fbf', '#b4451d', '#227a3d', '#7a2fa3', '#8a6d00']; // 4.5:1 on white

function speakerInfo(analysis, transcript) {
  const info = {};
  const list = (analysis && analysis.speakers) || (transcript && transcript.speakers) || [];
  list.forEach((s, i) => {
    const role = s.role ? s.role[0].toUpperCase() + s.role.slice(1) : 'Speaker';
    info[s.id] = { name: s.name || (role + ' ' + s.id), role: s.role || '', color: COLORS[i % COLORS.length], n: i };
  });
  return info;
}

function who(info, id) { return info[id] || { name: id, color: '#444', n: 0 }; }

function seekTo(audio, t) {
  audio.currentTime = Number(t) || 0;
  if (audio.paused) audio.play().catch(() => {}); // a user gesture started it; a refusal is fine
}

function renderTranscript(t, info, audio) {
  const ol = clear($('transcript'));
  (t.utterances || []).forEach((u, i) => {
    const s = who(info, u.speaker);
    const words = el('span', { class: 'words' });
    const ws = u.words || [];
    if (ws.length) {
      ws.forEach((w, k) => {
        if (k) words.append(' ');
        words.append(el('span', { class: 'w', dataset: { start: w.start } }, w.w));
      });
    } else {
      words.append(u.text || '');
    }
    const li = el('li', {
      class: 'utt spk-' + s.n, tabindex: 0, dataset: { start: u.start, end: u.end, speaker: u.speaker, i },
      'aria-label': s.name + ' at ' + mmss(u.start) + ': ' + (u.text || ''),
    }, el('span', { class: 'who', style: null }, s.name), el('span', { class: 'at' }, mmss(u.start)), words);
    li.querySelector('.who').dataset.color = s.n;
    ol.append(li);
  });
  ol.addEventListener('click', (ev) => {
    const w = ev.target.closest('.w');
    const u = ev.target.closest('.utt');
    if (w) seekTo(audio, w.dataset.start);
    else if (u) seekTo(audio, u.dataset.start);
  });
  ol.addEventListener('keydown', (ev) => {
    const u = ev.target.closest('.utt');
    if (u && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); seekTo(audio, u.dataset.start); }
  });
}

function highlight(audio) {
  const t = audio.currentTime;
  let cur = null;
  for (const li of document.querySelectorAll('#transcript .utt')) {
    if (Number(li.dataset.start) <= t + 0.05 && t < Number(li.dataset.end) + 0.3) cur = li;
  }
  for (const li of document.querySelectorAll('#transcript .utt.current')) if (li !== cur) li.classList.remove('current');
  if (cur && !cur.classList.contains('current')) {
    cur.classList.add('current');
    cur.setAttribute('aria-current', 'true');
    if (!audio.paused) cur.scrollIntoView({ block: 'nearest' });
  }
}

function renderMetrics(a, info) {
  const dl = clear($('metrics'));
  const m = (a && a.metrics) || {};
  const add = (k, v) => { dl.append(el('dt', {}, k), el('dd', {}, v)); };
  if (m.talk_ratio) add('Talk ratio', 'rep ' + pct(m.talk_ratio.rep) + ' · prospect ' + pct(m.talk_ratio.prospect));
  if (m.duration_s !== undefined) add('Duration', mmss(m.duration_s));
  for (const s of m.speakers || []) {
    add(who(info, s.speaker).name, mmss(s.talk_time_s) + ' talk, ' + Math.round(s.words_per_minute) + ' wpm, ' +
      s.questions + ' questions, longest monologue ' + mmss(s.longest_monologue_s) + ', ' + s.interruptions + ' interruptions');
  }
  if (m.longest_monologue && m.longest_monologue.speaker) {
    add('Longest monologue', who(info, m.longest_monologue.speaker).name + ', ' + mmss(m.longest_monologue.duration_s) +
      ' at ' + mmss(m.longest_monologue.start));
  }
  if (m.patience_s !== undefined && m.patience_s !== null) add('Patience', m.patience_s.toFixed(1) + ' s');
  if (!dl.firstChild) add('Talk metrics', 'not available yet');
}

function renderSentiment(a, info) {
  const box = clear($('sentiment'));
  const by = (a && a.sentiment && a.sentiment.by_speaker) || {};
  const ids = Object.keys(by);
  if (!ids.length) { box.append(el('p', {}, 'No sentiment yet.')); return null; }
  const xs = [...new Set(ids.flatMap((id) => by[id].map((p) => p.start)))].sort((p, q) => p - q);
  const data = [xs];
  for (const id of ids) {
    const at = new Map(by[id].map((p) => [p.start, p.smoothed !== undefined ? p.smoothed : p.score]));
    data.push(xs.map((x) => (at.has(x) ? at.get(x) : null)));
  }
  const width = Math.max(260, Math.min(box.clientWidth || 320, 2000));
  const plot = new uPlot({
    width, height: 180,
    scales: { x: { time: false }, y: { range: [-1, 1] } },
    axes: [{ values: (u, v) => v.map(mmss) }, {}],
    series: [{ label: 'time', value: (u, v) => (v === null ? '' : mmss(v)) },
      ...ids.map((id) => ({ label: who(info, id).name, stroke: who(info, id).color, width: 2, spanGaps: true }))],
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
    ids.map((id) => who(info, id).name).join(', '));
  return plot;
}

function moment(audio, start, text, extra) {
  const b = el('button', { type: 'button', class: 'jump', on: { click: () => seekTo(audio, start) } }, mmss(start));
  b.setAttribute('aria-label', 'Play from ' + mmss(start));
  return el('li', {}, b, ' ', extra ? el('strong', {}, extra + ': ') : null, text || '');
}

function renderFindings(a, audio) {
  const lists = [['objections', (o) => moment(audio, o.start, o.text, o.type)],
    ['pain', (p) => moment(audio, p.start, p.text)],
    ['actions', (x) => moment(audio, x.start, x.text + (x.due ? ' (due ' + x.due + ')' : ''), x.owner)]];
  const src = { objections: a.objections, pain: a.pain_points, actions: a.action_items };
  for (const [id, fn] of lists) {
    const ul = clear($(id));
    for (const x of src[id] || []) ul.append(fn(x));
    if (!ul.firstChild) ul.append(el('li', {}, 'None.'));
  }
  const nm = a.next_meeting;
  $('next-meeting').textContent = nm ? [nm.date, nm.time, nm.part_of_day].filter(Boolean).join(' ') +
    (nm.attendees && nm.attendees.length ? ' with ' + nm.attendees.join(', ') : '') : 'None agreed.';
}

function renderCrm(crm, draft) {
  const box = clear($('crm'));
  if (!crm) { box.append(el('p', {}, 'Not synced yet.')); }
  else {
    const ul = el('ul', { class: 'plain' });
    ul.append(el('li', {}, 'CRM: ' + crm.backend));
    if (crm.contact) ul.append(el('li', {}, 'Contact ' + (crm.contact.email || '') + ' ' + crm.contact.status));
    if (crm.activity) ul.append(el('li', {}, 'Call activity ' + crm.activity.status));
    for (const t of crm.tasks || []) ul.append(el('li', {}, 'Task "' + (t.text || t.title || t.kind) + '" ' + t.status));
    for (const n of crm.notes || []) ul.append(el('li', {}, 'Note ' + (n.key || n.kind || '').replace('_', ' ') + ' ' + (n.status || '')));
    for (const e of crm.emails || []) ul.append(el('li', {}, 'Email ' + e.status + (e.result ? ' (' + e.result + ')' : '')));
    for (const s of crm.skipped || []) ul.append(el('li', {}, 'Not written: ' + s.what + ' (' + s.reason + ')'));
    box.append(ul);
  }
  const d = draft ? (draft.approved ? 'approved ' + draft.approved_at + ', not sent yet' : 'draft, not approved') : 'no email';
  box.append(el('p', { id: 'delivery' }, 'Delivery: ' + d + '.'));
}

function renderQuality(t, a, draft) {
  const q = (t && t.quality) || (a && a.quality);
  const msgs = [];
  if (q && q.poor) {
    msgs.push('The transcript is unreliable: ' + pct(q.low_conf_share) + ' of its words were heard with low confidence ' +
      '(estimated word error rate ' + pct(q.wer_estimate) + '). Check quotes against the audio.');
  }
  if (draft && draft.needs_review) msgs.push('The email needs review: ' + (draft.review_reasons || []).join('; '));
  const box = $('quality');
  box.textContent = msgs.join(' ');
  box.hidden = !msgs.length;
}

function renderDraft(d) {
  $('email-subject').value = d.subject;
  $('email-text').value = d.text;
  $('email-eml').textContent = d.eml;
  $('email-state').textContent = d.approved ? 'Approved ' + d.approved_at : d.edited ? 'Edited, not approved' : 'Not approved';
  $('email-review').hidden = !d.needs_review;
  $('email-review').textContent = d.needs_review ? 'Needs review: ' + d.review_reasons.join('; ') : '';
}

async function optional(path) {
  try { return await api(path); } catch (e) { if (e.status === 404 || e.status === 409 || e.status === 400) return null; throw e; }
}

export async function showCall(id) {
  const base = '/v1/calls/' + id;
  const call = await api(base);
  const meta = call.metadata || {};
  $('call-h').textContent = (meta.contact_name || meta.contact_email || 'Call ' + id) + (meta.company ? ', ' + meta.company : '');
  $('call-sub').textContent = [meta.call_date, meta.rep_name ? 'rep ' + meta.rep_name : '', STATUS[call.status] || call.status]
    .filter(Boolean).join(' · ');
  // only what the call has (a missing artifact would be a 404 in the console)
  const has = new Set((call.artifacts || []).map((x) => x.name));
  const get = (name, path) => (has.has(name) ? optional(base + path) : Promise.resolve(null));
  const [t, a, crm, draft] = await Promise.all([get('transcript.json', '/transcript'), get('analysis.json', '/analysis'),
    get('crm.json', '/crm'), get('email.json', '/email/draft')]);
  const info = speakerInfo(a, t);

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

  if (t) renderTranscript(t, info, audio); else clear($('transcript')).append(el('li', {}, 'No transcript yet.'));
  renderMetrics(a, info);
  const plot = renderSentiment(a, info);
  if (a) renderFindings(a, audio);
  renderCrm(crm, draft);
  renderQuality(t, a, draft);

  const form = $('email-form');
  form.hidden = !draft;
  if (draft) renderDraft(draft);
  else $('email-state').textContent = '';
  const save = async (ev) => {
    ev.preventDefault();
    try {
      const d = await api(base + '/email/draft', { method: 'PUT', body: { subject: $('email-subject').value, text: $('email-text').value } });
      renderDraft(d);
      renderCrm(crm, d);
    } catch (e) { $('email-state').textContent = 'Not saved: ' + e.message; }
  };
  const approve = async () => {
    try {
      const cur = await api(base + '/email/draft');
      if (cur.subject !== $('email-subject').value || cur.text !== $('email-text').value) {
        await api(base + '/email/draft', { method: 'PUT', body: { subject: $('email-subject').value, text: $('email-text').value } });
      }
      const d = await api(base + '/email/approve', { method: 'POST' });
      renderDraft(d);
      renderCrm(crm, d);
    } catch (e) { $('email-state').textContent = 'Not approved: ' + e.message; }
  };
  form.addEventListener('submit', save);
  $('email-approve').addEventListener('click', approve);
  return () => {
    form.removeEventListener('submit', save);
    $('email-approve').removeEventListener('click', approve);
    ws.destroy();
    if (plot) { plot.sdraResize.disconnect(); plot.destroy(); }
    audio.pause();
  };
}
