// examples/coaching: two tabs of one conversation. Streamed answers reach both as they are
// generated; Stop in one tab stops the backend's generation (through the server's cancel
// webhook); a second question while the coach answers is refused with RATE_LIMIT and retried; a
// question asked while the server restarts waits in the offline queue and is answered after, and
// what was said while the tabs were away is recovered from history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startServer, stopServer, waitFor } from '../browser/lib/harness.mjs';
import { backend, screenshot, startExample } from './lib/example.mjs';
import { answerFor, tokensOf } from '../../examples/coaching/backend/fake-llm.mjs';

// A token every 60 ms: an answer takes 2.5 to 3 s, time enough to press Stop on a busy machine.
const TOKEN_MS = 60;

// What a tab shows: each message as "kind|text|reason".
const transcript = (page) => page.locator('#messages li[data-offset]').evaluateAll((lis) =>
  lis.map((li) => `${li.className}|${li.firstChild.textContent}|${li.dataset.reason ?? ''}`));
const offsets = (page) => page.locator('#messages li[data-offset]').evaluateAll((lis) => lis.map((li) => Number(li.dataset.offset)));
const status = (page) => page.locator('#status').evaluate((s) => ({ ...s.dataset, text: s.textContent }));
const liveText = (page) => page.locator('#live li.streaming').textContent({ timeout: 200 }).catch(() => '');

async function ask(page, question) {
  await page.bringToFront();  // a background tab's clicks wait for its throttled frames
  await page.locator('#question').fill(question);
  await page.locator('#ask').click();
}

test('coaching: streamed answers in two tabs, Stop stops the backend, offline queue across a server restart', async (t) => {
  const app = await startExample('coaching', { TOKEN_MS: String(TOKEN_MS) });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.context.setOffline(false).catch(() => {});
    await browser.close(t.name);
    await app.stop();
  });
  const conversation = 'learning-goals';  // the server's data dir is new for this test
  const url = `${app.backendUrl}/?c=${conversation}&user=alice`;
  const [a, b] = [await browser.context.newPage(), await browser.context.newPage()];
  await a.goto(url);
  await b.goto(url);
  for (const p of [a, b]) await waitFor('Live', async () => (await status(p)).text === 'Live');

  // 1. A asks; B sees the answer grow token by token, then the finished text.
  const q1 = 'Learn the piano';
  await ask(a, q1);
  const partial = await waitFor('part of the answer in tab B while it is generated', async () => {
    const text = await liveText(b);
    return text.length > 'coach: '.length && text !== `coach: ${answerFor(q1)}` ? text : false;
  });
  assert.ok(`coach: ${answerFor(q1)}`.startsWith(partial), `a prefix of the answer: ${partial}`);
  const after1 = [`user|alice: ${q1}|`, `assistant|coach: ${answerFor(q1)}|done`];
  for (const p of [a, b]) await waitFor('the finished answer', async () => (await transcript(p)).join('\n') === after1.join('\n'));

  // 2. A asks again; B asks too while the coach answers: refused (RATE_LIMIT, retryable).
  const q2 = 'Run a marathon';
  const q3 = 'Read twelve books this year';
  await ask(a, q2);
  await waitFor('the second answer streaming in B', async () => (await liveText(b)).length > 'coach: '.length);
  await ask(b, q3);
  await waitFor('RATE_LIMIT shown in B with a Retry button', async () =>
    (await b.locator('#error').getAttribute('data-code')) === 'RATE_LIMIT' && await b.locator('#retry').isVisible());
  assert.equal(await a.locator('#error').isHidden(), true, 'A saw no error');

  // 3. B presses Stop: the answer ends "stopped" in both tabs, and the backend stops generating.
  await b.bringToFront();
  await b.locator('#stop').click();
  const stoppedText = async (p) => (await transcript(p)).find((l) => l.endsWith('|cancelled'));
  for (const p of [a, b]) await waitFor('the stopped answer', () => stoppedText(p));
  const gens = (await backend(app, 'GET', '/api/ai/generations')).body;
  const g2 = gens[1];
  assert.equal(g2.state, 'cancelled', 'the cancel webhook reached the backend');
  const total = tokensOf(answerFor(q2)).length;
  assert.ok(g2.tokens < total, `generation stopped early (${g2.tokens} of ${total} tokens)`);
  await new Promise((r) => setTimeout(r, TOKEN_MS * 8));  // a deliberate wait: nothing must happen
  assert.equal((await backend(app, 'GET', '/api/ai/generations')).body[1].tokens, g2.tokens, 'no token after Stop');
  // The stopped text is what was generated, in both tabs.
  const stopped = await stoppedText(a);
  assert.equal(stopped, await stoppedText(b));
  assert.ok(`assistant|coach: ${answerFor(q2)}`.startsWith(stopped.slice(0, -'|cancelled'.length)));

  // 4. B retries its question: answered now.
  await b.locator('#retry').click();
  for (const p of [a, b]) {
    await waitFor('the answer to the retried question', async () => (await transcript(p)).includes(`assistant|coach: ${answerFor(q3)}|done`));
  }

  // 5. The server restarts. A asks meanwhile: the question waits in the SDK's queue. Both tabs
  // are kept away while bob, on another device, asks and is answered: they recover that from
  // history, then A's question leaves and is answered.
  await stopServer();
  for (const p of [a, b]) await waitFor('Reconnecting', async () => (await status(p)).state === 'disconnected');
  const q4 = 'Sleep eight hours a night';
  await ask(a, q4);
  await waitFor('the question queued in A', async () => (await status(a)).text === 'Reconnecting… (1 queued)');
  assert.equal(await a.locator('#messages li.queued').textContent(), `alice: ${q4}`);
  await browser.context.setOffline(true);
  await startServer();
  const q5 = 'Cook at home on weekdays';
  const published = await fetch(`${app.sbUrl}/api/publish`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${app.apiKey}` },
    body: JSON.stringify({ channel: `ai:${conversation}`, data: { role: 'user', user: 'bob', content: q5 } }),
  }).then((r) => r.json());
  assert.equal(published.offset, 7, JSON.stringify(published));
  assert.equal((await backend(app, 'POST', '/api/ai/chat', { conversationId: conversation, content: q5, replyTo: 7 })).status, 202);
  await waitFor("bob's answer generated", async () => (await backend(app, 'GET', '/api/ai/generations')).body.at(-1).state === 'done');
  for (const p of [a, b]) assert.equal((await status(p)).state, 'disconnected', 'the tabs were away meanwhile');
  await browser.context.setOffline(false);
  for (const p of [a, b]) {
    await waitFor('reconnected', async () => { const s = await status(p); return s.text === 'Live' && s.connects === '2'; }, { timeout: 20_000 });
    await waitFor('the queued question answered', async () => (await transcript(p)).includes(`assistant|coach: ${answerFor(q4)}|done`));
  }

  // Both tabs hold the whole conversation, each message once, in order; a fresh tab too.
  const whole = await transcript(a);
  assert.deepEqual(whole.filter((l) => l.startsWith('user')), [`alice: ${q1}`, `alice: ${q2}`, `alice: ${q3}`, `bob: ${q5}`, `alice: ${q4}`].map((q) => `user|${q}|`));
  assert.equal(whole[7], `assistant|coach: ${answerFor(q5)}|done`, "bob's answer, recovered whole");
  assert.equal(whole.length, 10);
  assert.deepEqual(await transcript(b), whole);
  const c = await browser.context.newPage();
  await c.goto(url);
  await waitFor('the history in a new tab', async () => (await transcript(c)).length === 10);
  assert.deepEqual(await transcript(c), whole);
  for (const p of [a, b, c]) assert.deepEqual(await offsets(p), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await c.close();

  await a.bringToFront();
  await a.setViewportSize({ width: 900, height: 640 });
  await screenshot(a, 'coaching');
  assert.deepEqual(browser.errors, []);
});
