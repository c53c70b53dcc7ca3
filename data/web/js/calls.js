// calls.js - the calls list: search (contact, company, words said) and filters through
// GET /v1/calls, live status through each unfinished call's events, upload by drag and drop
// (or the file picker) with a progress bar and the call sheet; Up and Down move between calls.
import { api, upload, follow } from './api.js';
import { $, el, clear, STATUS } from './util.js';

let streams = new Map(); // call id -> stop()
let wired = false;

function query() {
  const f = new FormData($('search-form'));
  const p = new URLSearchParams();
  for (const [k, v] of f) if (v) p.set(k, v);
  p.set('limit', '50');
  return p;
}

function statusCell(id, status) {
  return el('td', { class: 'status status-' + status, 'data-status': status, id: 'st-' + id }, STATUS[status] || status);
}

function setStatus(id, status) {
  const td = $('st-' + id);
  if (!td) return;
  td.className = 'status status-' + status;
  td.dataset.status = status;
  td.textContent = STATUS[status] || status;
}

function watch(id) {
  if (streams.has(id)) return;
  streams.set(id, follow(id, (type, d) => {
    if (type === 'stage' && d.state === 'running') setStatus(id, 'running');
    else if (type === 'stage' && d.state === 'dead') setStatus(id, 'failed');
    else if (type === 'done') { setStatus(id, d.status); streams.delete(id); }
  }));
}

async function load() {
  const body = $('calls-body');
  let doc;
  try {
    doc = await api('/v1/calls?' + query().toString());
  } catch (e) {
    if (e.status === 400) { $('calls-empty').hidden = false; $('calls-empty').textContent = e.message; clear(body); return; }
    throw e;
  }
  clear(body);
  for (const c of doc.calls) {
    const link = el('a', { href: '#/calls/' + c.id }, c.contact_name || c.contact_email || c.id);
    body.append(el('tr', { 'data-call': c.id },
      el('td', {}, link), el('td', {}, c.company || ''), el('td', {}, c.call_date || (c.created_at || '').slice(0, 10)),
      statusCell(c.id, c.status)));
    if (c.status === 'queued' || c.status === 'running') watch(c.id);
  }
  $('calls-empty').hidden = doc.calls.length > 0;
  $('calls-empty').textContent = 'No calls.';
}

async function send(file) {
  if (!file) return;
  const form = new FormData($('upload-form'));
  for (const [k, v] of [...form.entries()]) if (!v) form.delete(k);
  form.append('audio', file, file.name);
  const bar = $('upload-progress');
  bar.hidden = false;
  bar.value = 0;
  $('upload-status').textContent = 'Uploading ' + file.name + '…';
  try {
    const r = await upload(form, (p) => { bar.value = p; });
    bar.value = 100;
    $('upload-status').textContent = 'Uploaded: ' + file.name + ' is ' + (STATUS[r.status] || r.status).toLowerCase() + '.';
    await load();
    watch(r.id);
  } catch (e) {
    $('upload-status').textContent = 'Upload failed: ' + e.message;
  }
}

function wire() {
  if (wired) return;
  wired = true;
  $('search-form').addEventListener('submit', (ev) => { ev.preventDefault(); load().catch((e) => console.warn(e)); });
  const drop = $('drop');
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    send(ev.dataTransfer.files[0]);
  });
  drop.addEventListener('keydown', (ev) => {
    if (ev.target === drop && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); $('upload-file').click(); }
  });
  $('upload-file').addEventListener('change', (ev) => { send(ev.target.files[0]); ev.target.value = ''; });
  // the list by keyboard: Tab reaches each call's link; Up and Down move between the calls
  $('calls-body').addEventListener('keydown', (ev) => {
    const row = ev.target.closest('tr');
    if (!row || (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp')) return;
    const next = ev.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling;
    if (next && next.querySelector('a')) { ev.preventDefault(); next.querySelector('a').focus(); }
  });
}

export async function showCalls() {
  wire();
  await load();
  return () => { for (const stop of streams.values()) stop(); streams = new Map(); };
}
