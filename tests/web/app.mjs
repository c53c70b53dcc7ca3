// app.mjs - the web app driven in a real browser (Debian's chromium, headless, through
// playwright-core): sign in; upload a generated call by drag and drop (and a second one with the
// file picker) and watch both reach done in the list; open one and click the third utterance:
// the audio's currentTime moves to its start (ranged audio, encrypted at rest); edit and approve
// the email, then check the stored draft through the API; search finds the call by a word it
// contains (and not by one it does not); the team view renders with the two calls; phone width
// has no sideways scrolling; no console errors. Screenshots go to OUT.
//
//   node tests/web/app.mjs BASE_URL API_KEY AUDIO1 AUDIO2 OUT_DIR
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { basename } from 'node:path';

const [base, key, audio1, audio2, out] = process.argv.slice(2);
if (!out) { console.error('usage: app.mjs BASE_URL API_KEY AUDIO1 AUDIO2 OUT_DIR'); process.exit(2); }
mkdirSync(out, { recursive: true });
const browserPath = process.env.SDRA_CHROMIUM || '/usr/bin/chromium';
const today = new Date().toISOString().slice(0, 10);
let step = 'start';
const errors = [];

function check(cond, msg) { if (!cond) throw new Error(msg); }
async function apiGet(path) {
  const r = await fetch(base + path, { headers: { Authorization: 'Bearer ' + key } });
  check(r.ok, `GET ${path}: HTTP ${r.status}`);
  return r.json();
}

const browser = await chromium.launch({
  executablePath: browserPath, headless: true,
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()} (${step})`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message} (${step})`));
  page.on('requestfailed', (r) => {
    if (!/aborted/i.test(r.failure()?.errorText || '')) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) errors.push('external request: ' + r.url()); });

  step = 'sign in';
  await page.goto(base + '/');
  await page.locator('input[name=api_key]').fill(key);
  await page.locator('input[name=api_key]').press('Enter');
  await page.locator('#view-calls').waitFor({ state: 'visible' });
  check(!page.url().includes(key), 'the key is in the URL');
  check(await page.evaluate(() => sessionStorage.getItem('sdra.api_key')) === key, 'the key is not in sessionStorage');

  step = 'upload by drag and drop';
  await page.fill('#upload-form [name=contact_name]', 'Jordan Lee');
  await page.fill('#upload-form [name=company]', 'Northwind Logistics');
  await page.fill('#upload-form [name=rep_name]', 'Alex');
  await page.fill('#upload-form [name=contact_email]', 'jordan@northwind.example');
  await page.fill('#upload-form [name=call_date]', today);
  const b64 = readFileSync(audio1).toString('base64');
  const dt = await page.evaluateHandle(([data, name]) => {
    const bytes = Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
    const d = new DataTransfer();
    d.items.add(new File([bytes], name, { type: 'audio/wav' }));
    return d;
  }, [b64, basename(audio1)]);
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
  await page.locator('#upload-status', { hasText: 'Uploaded' }).waitFor({ timeout: 60000 });
  check(await page.locator('#upload-progress').evaluate((p) => p.value) === 100, 'the progress bar did not reach 100');

  step = 'upload with the file picker';
  await page.fill('#upload-form [name=contact_name]', 'Sam Carter');
  await page.fill('#upload-form [name=company]', 'Contoso Freight');
  await page.fill('#upload-form [name=rep_name]', 'Riley');
  await page.fill('#upload-form [name=contact_email]', 'sam@contoso.example');
  await page.setInputFiles('#upload-file', audio2);
  await page.locator('#upload-status', { hasText: 'Uploaded: ' + basename(audio2) }).waitFor({ timeout: 60000 });
  await page.screenshot({ path: `${out}/calls-uploading.png` });

  step = 'both calls reach done in the list (live, through the events)';
  const rows = page.locator('#calls-body tr');
  check(await rows.count() === 2, `the list shows ${await rows.count()} calls, not 2`);
  await page.locator('#calls-body td[data-status=done]').nth(1).waitFor({ timeout: 600000 });
  const jordan = page.locator('#calls-body tr', { hasText: 'Jordan Lee' });
  const id = await jordan.getAttribute('data-call');
  await page.screenshot({ path: `${out}/calls.png` });

  step = 'open the call';
  await jordan.locator('a').click();
  await page.waitForURL(new RegExp('#/calls/' + id + '$'));
  const utts = page.locator('#transcript .utt');
  await utts.nth(2).waitFor();
  const audios = await page.locator('audio').evaluateAll((as) => as.map((a) => a.src));
  check(audios.length === 1, `${audios.length} <audio> elements`);
  check(new URL(audios[0]).pathname.startsWith('/v1/calls/' + id + '/'), 'audio source ' + audios[0]);
  for (const attr of ['data-start', 'data-speaker'])
    check(await page.locator(`#transcript .utt:not([${attr}])`).count() === 0, 'an utterance without ' + attr);

  step = 'click the third utterance: the audio seeks to its start';
  await page.locator('audio').evaluate((a) => new Promise((ok) => (a.readyState >= 1 ? ok() : a.addEventListener('loadedmetadata', ok, { once: true }))));
  const start = Number(await utts.nth(2).getAttribute('data-start'));
  check(start > 0, 'the third utterance starts at ' + start);
  // the position right after the seek (clicking also plays from there, so it moves on)
  await page.locator('audio').evaluate((a) => {
    window.sdraSeeked = null;
    a.addEventListener('seeked', () => { window.sdraSeeked = a.currentTime; }, { once: true });
  });
  await utts.nth(2).locator('.who').click();
  await page.waitForFunction(() => window.sdraSeeked !== null, null, { timeout: 15000 });
  const seeked = await page.evaluate(() => window.sdraSeeked);
  check(Math.abs(seeked - start) < 0.1, `currentTime ${seeked} after clicking an utterance at ${start}`);
  await page.locator('audio').evaluate((a) => a.pause());
  await page.locator('#transcript .utt.current').first().waitFor({ timeout: 5000 });
  check(await page.locator('#transcript .utt.current').first().getAttribute('data-start') === String(start) ||
        Number(await page.locator('#transcript .utt.current').first().getAttribute('data-start')) <= seeked,
        'the current utterance is not highlighted');
  await page.locator('#sentiment .uplot').waitFor();
  await page.screenshot({ path: `${out}/call.png`, fullPage: true });

  step = 'edit and approve the email';
  await page.locator('#email-subject').waitFor();
  const subject = 'Next steps for Northwind, edited in the browser';
  const text = (await page.inputValue('#email-text')) + '\nP.S. Edited in the review.';
  await page.fill('#email-subject', subject);
  await page.fill('#email-text', text);
  await page.click('#email-approve');
  await page.locator('#email-state', { hasText: 'Approved' }).waitFor({ timeout: 15000 });
  await page.locator('details summary').click();
  await page.locator('#email-form').screenshot({ path: `${out}/email.png` });
  const stored = await apiGet(`/v1/calls/${id}/email/draft`);
  check(stored.subject === subject, 'stored subject: ' + stored.subject);
  check(stored.text === text, 'stored text differs');
  check(stored.approved === true && stored.approved_at, 'the stored draft is not approved');
  check(stored.eml.includes('Subject: ' + subject) && stored.eml.includes('Edited in the review.'), 'the .eml lacks the edit');

  step = 'phone width';
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `phone width scrolls sideways by ${overflow}px`);
  await page.screenshot({ path: `${out}/call-phone.png` });
  await page.setViewportSize({ width: 1280, height: 900 });

  step = 'search by a word said';
  const tr = await apiGet(`/v1/calls/${id}/transcript`);
  const words = tr.utterances.flatMap((u) => u.text.split(' ')).filter((w) => /^[a-z]{6,}$/.test(w));
  const other = await apiGet(`/v1/calls/${await rows.filter({ hasText: 'Sam Carter' }).getAttribute('data-call')}/transcript`);
  const otherWords = new Set(other.utterances.flatMap((u) => u.text.split(' ')));
  const word = words.find((w) => !otherWords.has(w)) || words[0];
  check(word, 'no word to search for');
  await page.goto(base + '/#/');
  await page.fill('#q', word);
  await page.click('#search-form button[type=submit]');
  await page.waitForFunction((want) => {
    const r = [...document.querySelectorAll('#calls-body tr')].map((x) => x.dataset.call);
    return r.includes(want);
  }, id, { timeout: 10000 });
  await page.screenshot({ path: `${out}/search.png` });
  await page.fill('#q', 'zyxwvut');
  await page.click('#search-form button[type=submit]');
  await page.locator('#calls-empty').waitFor({ state: 'visible', timeout: 10000 });
  await page.fill('#q', 'northwind');
  await page.click('#search-form button[type=submit]');
  await page.waitForFunction((want) => {
    const r = [...document.querySelectorAll('#calls-body tr')].map((x) => x.dataset.call);
    return r.length === 1 && r[0] === want;
  }, id, { timeout: 10000 });

  step = 'team view';
  await page.click('#nav-team');
  await page.locator('#team-total', { hasText: '2 calls' }).waitFor({ timeout: 15000 });
  check(await page.locator('#team .week').count() >= 1, 'no week in the team view');
  check(/since \d{4}-\d\d-\d\d\./.test(await page.locator('#team-total').textContent()), 'the team view has no start date');
  check(await page.locator('#team a[href="#/calls/' + id + '"]').count() >= 1, 'the team charts do not link to the call');
  await page.screenshot({ path: `${out}/team.png`, fullPage: true });

  step = 'console';
  check(errors.length === 0, 'browser errors:\n' + errors.join('\n'));
  console.log('browser: 9 passed, 0 failed');
} catch (e) {
  console.error(`FAIL (${step}): ${e.message}`);
  if (errors.length) console.error(errors.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
}
