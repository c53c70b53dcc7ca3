// team.js - the team view: GET /v1/stats/team by week, across calls and reps: talk-ratio
// distribution, objection frequency by type, outcomes, meetings booked, longest monologue.
// Charts are HTML bars (readable by screen readers, no canvas); each links to its calls.
import { api } from './api.js';
import { $, el, clear, mmss, pct } from './util.js';

function callLinks(ids) {
  const span = el('span', { class: 'links' });
  ids.forEach((id, i) => {
    if (i) span.append(' ');
    span.append(el('a', { href: '#/calls/' + id, title: 'Open call ' + id }, id.slice(0, 8)));
  });
  return span;
}

function bars(title, entries, max, fmt) {
  const list = el('ul', { class: 'bars', 'aria-label': title });
  for (const [label, value, ids] of entries) {
    const w = max > 0 ? Math.max(2, Math.round(100 * value / max)) : 0;
    const bar = el('span', { class: 'bar', dataset: { w } });
    bar.style.width = w + '%';
    list.append(el('li', {}, el('span', { class: 'label' }, label), el('span', { class: 'track' }, bar),
      el('span', { class: 'value' }, fmt ? fmt(value) : String(value)), callLinks(ids)));
  }
  return el('figure', { class: 'chart-card' }, el('figcaption', {}, title),
    entries.length ? list : el('p', {}, 'None.'));
}

function bucketEntries(obj) {
  return Object.entries(obj || {}).sort((p, q) => q[1].count - p[1].count).map(([k, v]) => [k, v.count, v.calls]);
}

async function load() {
  const weeks = $('team-weeks').value;
  const doc = await api('/v1/stats/team?weeks=' + encodeURIComponent(weeks));
  const box = clear($('team'));
  box.append(el('p', { id: 'team-total' }, doc.calls + ' calls since ' + doc.since + '.'));
  for (const w of doc.by_week) {
    const sec = el('section', { class: 'week card', 'aria-label': 'Week of ' + w.week });
    sec.append(el('h2', {}, 'Week of ' + w.week + ' · ' + w.calls.length + ' calls'));
    const grid = el('div', { class: 'charts' });
    grid.append(bars('Rep talk ratio per call', w.talk_ratio.map((x) => [x.call_id.slice(0, 8), x.rep, [x.call_id]]), 1, pct));
    grid.append(bars('Objections (calls raising each)', bucketEntries(w.objections), w.calls.length));
    grid.append(bars('Outcomes', bucketEntries(w.outcomes), w.calls.length));
    grid.append(bars('Meetings booked', [['meetings', w.meetings_booked.count, w.meetings_booked.calls]], w.calls.length));
    grid.append(bars('Reps (mean talk ratio)', Object.entries(w.reps).map(([k, v]) => [k + ' (' + v.count + ')', v.talk_ratio_mean, v.calls]), 1, pct));
    const lm = w.longest_monologue;
    grid.append(el('figure', { class: 'chart-card' }, el('figcaption', {}, 'Longest monologue'),
      lm ? el('p', {}, mmss(lm.duration_s) + ' by ' + (lm.speaker || '?') + ' in ',
        el('a', { href: '#/calls/' + lm.call_id }, 'call ' + lm.call_id.slice(0, 8))) : el('p', {}, 'None.')));
    sec.append(grid);
    box.append(sec);
  }
  if (!doc.by_week.length) box.append(el('p', {}, 'No finished calls in these weeks.'));
}

let wired = false;
export async function showTeam() {
  if (!wired) {
    wired = true;
    $('team-weeks').addEventListener('change', () => load().catch((e) => console.warn(e)));
  }
  await load();
  return null;
}
