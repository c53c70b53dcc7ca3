// api.js - the HTTP API as the app uses it: the key (sessionStorage, sent as a Bearer header,
// never in a URL), JSON calls, uploads with progress, and the events of a call read from a
// fetch stream (EventSource cannot send the Authorization header).
const KEY = 'sdra.api_key';

export function key() { return sessionStorage.getItem(KEY); }
export function setKey(k) { sessionStorage.setItem(KEY, k); }
export function clearKey() { sessionStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export async function api(path, opts = {}) {
  const headers = Object.assign({ Authorization: 'Bearer ' + key() }, opts.headers || {});
  let body = opts.body;
  if (body && typeof body === 'object' && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(body);
  }
  const r = await fetch(path, { method: opts.method || 'GET', headers, body, credentials: 'same-origin' });
  const text = await r.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch (e) { doc = null; }
  if (!r.ok) {
    const e = doc && doc.error ? doc.error : { code: 'http_' + r.status, message: text.slice(0, 200) };
    throw new ApiError(r.status, e.code, e.message);
  }
  return opts.text ? text : doc;
}

// The media cookie the <audio> element authenticates with (HttpOnly, this browser session).
export function openSession() { return api('/v1/session', { method: 'POST' }); }
export function closeSession() { return api('/v1/session', { method: 'DELETE' }).catch(() => {}); }

export function upload(form, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', '/v1/calls');
    x.setRequestHeader('Authorization', 'Bearer ' + key());
    x.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(Math.round(100 * e.loaded / e.total)); };
    x.onload = () => {
      let doc = null;
      try { doc = JSON.parse(x.responseText); } catch (e) { doc = null; }
      if (x.status >= 200 && x.status < 300) resolve(doc);
      else reject(new ApiError(x.status, doc && doc.error ? doc.error.code : 'http', doc && doc.error ? doc.error.message : 'upload failed'));
    };
    x.onerror = () => reject(new ApiError(0, 'network', 'the upload could not reach the server'));
    x.send(form);
  });
}

// Follows /v1/calls/{id}/events until the stream ends; onEvent(type, data). Returns a stop function.
export function follow(id, onEvent) {
  return stream('/v1/calls/' + encodeURIComponent(id) + '/events', onEvent);
}

// Reads the SSE stream at path (with the key) until it ends: onEvent(type, data) for each event,
// then onEnd(status) once: the HTTP status (200 when the stream ended, 404 for an unknown
// call), 0 when the connection failed. Aborting (the returned stop function) calls neither.
export function stream(path, onEvent, onEnd = () => {}) {
  const ctl = new AbortController();
  (async () => {
    const r = await fetch(path, { headers: { Authorization: 'Bearer ' + key(), Accept: 'text/event-stream' }, signal: ctl.signal });
    if (!r.ok || !r.body) { onEnd(r.status); return; }
    const rd = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await rd.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        let type = 'message', data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) {
          try { onEvent(type, JSON.parse(data)); } catch (e) { /* a keepalive or a foreign line */ }
        }
      }
    }
    onEnd(r.status);
  })().catch((e) => { if (e.name !== 'AbortError') { console.warn('events of', path, 'stopped:', e.message); onEnd(0); } });
  return () => ctl.abort();
}
