// lib.mjs - helpers the browser tests share (tests/web/app.mjs, tests/web/live.mjs): assertions,
// waiting, the label/name and sideways-scroll checks, and the page watcher that collects console
// errors, failed requests and requests to anywhere but the server.
export function check(cond, msg) { if (!cond) throw new Error(msg); }

export async function until(what, fn, ms) {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((ok) => setTimeout(ok, 250))) {
    const v = await fn();
    if (v) return v;
  }
  throw new Error('timed out waiting for ' + what);
}

// axe-like checks without axe: every visible form control has a label, every button a name
export async function labelsAndNames(page, where) {
  const bad = await page.evaluate(() => {
    const out = [];
    const shown = (e) => e.offsetParent !== null || e.getClientRects().length > 0;
    for (const e of document.querySelectorAll('input, select, textarea')) {
      if (e.type === 'hidden' || !shown(e)) continue;
      const named = (e.labels && e.labels.length && [...e.labels].some((l) => l.textContent.trim())) ||
        (e.getAttribute('aria-label') || '').trim() || e.getAttribute('aria-labelledby');
      if (!named) out.push('unlabelled ' + e.tagName.toLowerCase() + (e.id ? '#' + e.id : e.name ? '[name=' + e.name + ']' : ''));
    }
    for (const e of document.querySelectorAll('button, [role=button]')) {
      if (!shown(e)) continue;
      if (!(e.textContent.trim() || (e.getAttribute('aria-label') || '').trim() || (e.getAttribute('title') || '').trim()))
        out.push('unnamed button ' + (e.id || e.className));
    }
    return out;
  });
  check(bad.length === 0, where + ': ' + bad.join(', '));
}

export async function noSidewaysScroll(page, where) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `${where} at 390 px scrolls sideways by ${overflow}px`);
}

// Collects into errors: console errors, page errors, failed requests (not aborted ones) and any
// request outside base. step() names the step running, for the messages.
export function watchPage(page, base, errors, step) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()} (${step()})`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message} (${step()})`));
  page.on('requestfailed', (r) => {
    if (!/aborted/i.test(r.failure()?.errorText || '')) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) errors.push('external request: ' + r.url()); });
}
