// util.js - small DOM and formatting helpers shared by the views.
export const $ = (id) => document.getElementById(id);

// el('li', {class: 'x', dataset: {start: 1}}, 'text', child...)
export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

export function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

export function mmss(s) {
  s = Math.max(0, Math.round(Number(s) || 0));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

export function pct(x) { return Math.round(100 * (Number(x) || 0)) + '%'; }

// User-facing names of the call statuses the API reports.
export const STATUS = { queued: 'Queued', running: 'Processing', done: 'Done', failed: 'Failed' };
