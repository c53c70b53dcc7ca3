// live.mjs - the web app's live call view (docs/web.md "Live calls") in a real browser
// (Debian's chromium, headless, through playwright-core), against a call streamed while the page
// is open: sign in; the Live list is empty; `sdra live-send` streams the pricing call in the
// Twilio format faster than real time; the call appears in the list with its contact, and its
// link (by keyboard) opens the live page: utterances arrive with speaker and role while the call
// still streams, an objection alert card with its battlecard appears in the alerts' live region,
// the running metrics show the talk ratio; on `done` the link leads to the call's page. Then,
// with the live stream answered by the test itself (page.route), a `partial` is shown greyed and
// is replaced by its final utterance, and alert cards go newest first. At 390 px nothing
// scrolls sideways; inputs are labelled and buttons named; no console error, no outside request.
// Screenshots (live.png, live-phone.png) go to OUT.
//
//   node tests/web/live.mjs BASE_URL API_KEY SDRA AUDIO OUT_DIR
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { check, until, labelsAndNames, noSidewaysScroll, watchPage } from './lib.mjs';

const [base, key, sdra, audio, out] = process.argv.slice(2);
if (!out) { console.error('usage: live.mjs BASE_URL API_KEY SDRA AUDIO OUT_DIR'); process.exit(2); }
mkdirSync(out, { recursive: true });
const SID = 'CA-web-live-1';
const SPEED = process.env.SDRA_LIVE_SPEED || '4';
let step = 'start';
const errors = [];

// The live stream of a call the test makes up: events as the server would send them.
function sse(events) {
  return 'retry: 2000\n\n' + events.map(([type, d], i) => `id: ${i + 1}\nevent: ${type}\ndata: ${JSON.stringify(d)}\n\n`).join('');
}

const browser = await chromium.launch({ executablePath: process.env.SDRA_CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
let sender = null;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watchPage(page, base, errors, () => step);

  step = 'sign in';
  await page.goto(base + '/');
  await page.locator('input[name=api_key]').fill(key);
  await page.locator('input[name=api_key]').press('Enter');
  await page.locator('#view-calls').waitFor({ state: 'visible' });

  step = 'the live list, empty';
  await page.click('#nav-live');
  await page.locator('#view-live').waitFor({ state: 'visible' });
  await page.locator('#live-empty', { hasText: 'No live calls in progress' }).waitFor({ timeout: 10000 });
  await labelsAndNames(page, 'live list');

  step = 'stream the pricing call';
  const log = openSync(out + '/live-send.jsonl', 'w');
  sender = spawn(sdra, [
    'live-send', audio, '--url', base.replace(/^http/, 'ws') + '/v1/live/twilio', '--key', key, '--call-sid', SID,
    '--speed', SPEED, '--param', 'contact_name=Sam Carter', '--param', 'company=Acme Freight',
    '--param', 'contact_email=sam@acme.example', '--param', 'rep_name=Alex', '--param', 'rep_track=inbound',
  ], { stdio: ['ignore', log, log] });

  step = 'the call appears in the live list';
  const row = page.locator(`#live-body tr[data-call-sid="${SID}"]`);
  await row.waitFor({ timeout: 30000 });
  check((await row.textContent()).includes('Sam Carter'), 'the live list does not name the contact: ' + await row.textContent());
  check((await row.textContent()).includes('Acme Freight'), 'the live list does not name the company');
  await row.locator('a').focus();
  await page.keyboard.press('Enter');
  await page.locator('#view-live-call').waitFor({ state: 'visible' });
  check(page.url().endsWith('#/live/' + SID), 'the live page is at ' + page.url());

  step = 'utterances arrive while the call streams';
  const finals = page.locator('#lc-transcript li.utt:not(.partial)');
  await until('two utterances', async () => (await finals.count()) >= 2, 360000);
  check(await page.locator('#lc-done').isHidden(), 'the first utterances came only after the call ended');
  const first = finals.first();
  check(['rep', 'prospect'].includes(await first.getAttribute('data-role')), 'an utterance without its role');
  check(/^(Rep|Prospect)/.test(await first.locator('.who').textContent()), 'an utterance shows no speaker role');
  check((await first.locator('.text').textContent()).trim().length > 0, 'an utterance without text');
  check((await first.getAttribute('data-start')) !== null, 'an utterance without data-start');

  step = 'an objection alert card with its battlecard';
  const card = page.locator('#lc-alerts li.alert-objection').first();
  await card.waitFor({ timeout: 360000 });
  check(['price', 'competitor', 'security'].includes(await card.getAttribute('data-type')),
    'objection type ' + await card.getAttribute('data-type'));
  check((await card.locator('.alert-head').textContent()).startsWith('Objection: '), 'the card does not name the objection');
  check((await card.locator('.battlecard').textContent()).trim().length > 20, 'the objection card has no battlecard');
  check(await page.locator('#lc-alerts').getAttribute('aria-live') === 'polite', 'the alerts are not a live region');
  await page.locator('#lc-talk', { hasText: 'Rep ' }).waitFor({ timeout: 60000 });
  check(/Rep \d+% · Prospect \d+%/.test(await page.locator('#lc-talk').textContent()), 'talk ratio: ' + await page.locator('#lc-talk').textContent());
  check(/\d\.\d s/.test(await page.locator('#lc-lag').textContent()), 'no lag shown');

  step = 'done, and the link to the call';
  const link = page.locator('#lc-done-link');
  await link.waitFor({ timeout: 480000 });
  const href = await link.getAttribute('href');
  check(/^#\/calls\/live-[0-9a-f]{16}$/.test(href), 'the done link is ' + href);
  const utts = await finals.count();
  check(utts >= 4, `only ${utts} utterances on the page at the end`);
  const starts = await finals.evaluateAll((ns) => ns.map((n) => Number(n.dataset.start)));
  check(starts.every((s, i) => i === 0 || s >= starts[i - 1]), 'the transcript is out of order: ' + starts);
  await page.screenshot({ path: `${out}/live.png`, fullPage: true });
  await labelsAndNames(page, 'live call');
  await page.setViewportSize({ width: 390, height: 844 });
  await noSidewaysScroll(page, 'the live call page');
  await page.screenshot({ path: `${out}/live-phone.png` });
  await page.click('#nav-live');
  await page.locator('#live-empty', { hasText: 'No live calls in progress' }).waitFor({ timeout: 10000 });
  await noSidewaysScroll(page, 'the live list');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goBack();
  await link.click();
  await page.locator('#view-call').waitFor({ state: 'visible' });
  const id = href.slice('#/calls/'.length);
  check(page.url().endsWith(href), 'the done link led to ' + page.url());
  await until('the call page', async () => (await page.locator('#audio').getAttribute('src') || '').startsWith('/v1/calls/' + id + '/'), 30000);

  step = 'a partial, then its final utterance (a stream the test answers)';
  await page.route('**/v1/live/CA-made-up-1/events', (r) => r.fulfill({
    status: 200, contentType: 'text/event-stream',
    body: sse([['partial', { speaker: 'S2', role: 'prospect', start: 3.5, text: 'we already use' }]]),
  }));
  await page.goto(base + '/#/live/CA-made-up-1');
  const partial = page.locator('#lc-transcript li.utt.partial');
  await partial.waitFor({ timeout: 10000 });
  check((await partial.textContent()).includes('we already use'), 'the partial text is not shown');
  const look = await partial.evaluate((n) => getComputedStyle(n).fontStyle + ' ' + getComputedStyle(n).color);
  check(look.startsWith('italic') && look.includes('91, 101, 115'), 'the partial is not greyed: ' + look);
  await page.locator('#lc-state', { hasText: 'stopped before the call ended' }).waitFor({ timeout: 10000 });
  await page.route('**/v1/live/CA-made-up-2/events', (r) => r.fulfill({
    status: 200, contentType: 'text/event-stream',
    body: sse([
      ['utterance', { speaker: 'S1', role: 'rep', start: 0.5, end: 3.0, text: 'hi this is alex' }],
      ['partial', { speaker: 'S2', role: 'prospect', start: 3.5, text: 'we already use' }],
      ['alert', { kind: 'objection', type: 'competitor', at: 3.5, text: 'we already use acme', battlecard: { label: 'Competitor', point: 'Ask what they would change.' } }],
      ['utterance', { speaker: 'S2', role: 'prospect', start: 3.5, end: 6.0, text: 'we already use acme for that' }],
      ['alert', { kind: 'do_not_call', at: 7.0, text: 'please do not call me again' }],
      ['done', { id: 'live-0123456789abcdef', status: 'queued', duration_s: 8.0 }],
    ]),
  }));
  await page.goto(base + '/#/live/CA-made-up-2');
  await page.locator('#lc-done-link').waitFor({ timeout: 10000 });
  check(await page.locator('#lc-transcript li.partial').count() === 0, 'the partial was not replaced');
  const texts = await page.locator('#lc-transcript li.utt .text').allTextContents();
  check(texts.length === 2 && texts[1] === 'we already use acme for that', 'transcript after the partial: ' + JSON.stringify(texts));
  const kinds = await page.locator('#lc-alerts li').evaluateAll((ns) => ns.map((n) => n.dataset.kind));
  check(kinds.join(',') === 'do_not_call,objection', 'alerts not newest first: ' + kinds);

  step = 'console';
  check(errors.length === 0, 'browser errors:\n' + errors.join('\n'));
  console.log('browser (live): 9 passed, 0 failed');
} catch (e) {
  console.error(`FAIL (${step}): ${e.message}`);
  if (errors.length) console.error(errors.join('\n'));
  process.exitCode = 1;
} finally {
  if (sender && sender.exitCode === null) sender.kill();
  await browser.close();
}
