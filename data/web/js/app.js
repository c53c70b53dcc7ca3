// app.js - the router and sign-in of the sdra web app (docs/web.md). Views: the calls list
// (#/), a call (#/calls/{id}, also served at /calls/{id}), the team (#/team), the live calls
// (#/live) and one live call (#/live/{callSid}).
import { key, setKey, clearKey, api, openSession, closeSession } from './api.js';
import { showCalls } from './calls.js';
import { showCall } from './call.js';
import { showTeam } from './team.js';
import { showLive, showLiveCall } from './live.js';

const $ = (id) => document.getElementById(id);
let leave = null; // the current view's clean-up
// Each route() is one navigation. A view is shown by an async function that awaits the API, so
// a second navigation can start before the first view is ready (a click, then Back at once):
// the view that finishes after it is no longer current, and is cleaned up as soon as it
// returns instead of being kept. Otherwise its handlers stay on the page's shared elements,
// and approving one call's email also approved the stale call's (docs/web.md).
let nav = 0;

function show(id) {
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== id;
  $('sign-out').hidden = id === 'view-signin';
}

async function route() {
  const mine = ++nav;
  const current = () => mine === nav;
  const settle = (cleanup) => {
    if (current()) leave = cleanup;
    else if (cleanup) cleanup();
  };
  if (leave) { leave(); leave = null; }
  if (!key()) {
    show('view-signin');
    $('api_key').focus();
    return;
  }
  // /calls/{id} (a link someone shared) is the same page as #/calls/{id}
  const m0 = location.pathname.match(/^\/calls\/([a-z0-9-]+)$/);
  const h = location.hash || (m0 ? '#/calls/' + m0[1] : '#/');
  let m;
  document.querySelectorAll('nav a').forEach((a) => a.removeAttribute('aria-current'));
  if ((m = h.match(/^#\/calls\/([a-z0-9-]+)$/))) {
    show('view-call');
    settle(await showCall(m[1], current));
  } else if ((m = h.match(/^#\/live\/([A-Za-z0-9._-]{1,63})$/))) {
    $('nav-live').setAttribute('aria-current', 'page');
    show('view-live-call');
    settle(await showLiveCall(m[1]));
  } else if (h === '#/live') {
    $('nav-live').setAttribute('aria-current', 'page');
    show('view-live');
    settle(await showLive());
  } else if (h === '#/team') {
    $('nav-team').setAttribute('aria-current', 'page');
    show('view-team');
    settle(await showTeam());
  } else {
    $('nav-calls').setAttribute('aria-current', 'page');
    show('view-calls');
    settle(await showCalls());
  }
}

async function signIn(ev) {
  ev.preventDefault();
  const k = $('api_key').value.trim();
  $('signin-error').textContent = '';
  if (!k) return;
  setKey(k);
  try {
    await openSession(); // checks the key and sets the audio's cookie
  } catch (e) {
    clearKey();
    $('signin-error').textContent = e.status === 401 ? 'That key was not accepted.' : 'Sign-in failed: ' + e.message;
    return;
  }
  $('api_key').value = '';
  route();
}

async function signOut() {
  await closeSession();
  clearKey();
  location.hash = '#/';
  route();
}

$('signin-form').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', signOut);
window.addEventListener('hashchange', () => { route().catch(report); });
function report(e) {
  if (e && e.status === 401) { clearKey(); route(); return; }
  console.warn(e);
}
route().catch(report);
export { api };
