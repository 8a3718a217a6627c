// Chromium's own EventSource on GET /sse: messages arrive live; the server dies (SIGKILL) and
// comes back on the same port and data dir; what was published meanwhile arrives once each, in
// order, because the browser's automatic reconnect sends Last-Event-ID (docs/sse.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, launchBrowser, publish, startServer, stopServer, unique, waitFor } from '../lib/harness.mjs';

test('an EventSource gets every message exactly once across a server kill and restart', async (t) => {
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.context.setOffline(false).catch(() => {});
    await browser.close(t.name);
  });
  const channel = `chat:${unique('sse')}`;
  const page = await browser.newPage('/api/stats');  // any page of the server's origin
  await page.evaluate((url) => {
    window.got = [];
    window.opens = 0;
    const source = new EventSource(url);
    source.onopen = () => { window.opens += 1; };
    source.addEventListener('message', (e) => {
      const frame = JSON.parse(e.data);
      window.got.push({ n: frame.data.n, offset: frame.offset, id: e.lastEventId });
    });
    source.addEventListener('reset', () => { window.reset = true; });
  }, `${baseUrl()}/sse?channel=${encodeURIComponent(channel)}`);
  const got = () => page.evaluate(() => window.got);
  const opens = () => page.evaluate(() => window.opens);
  await waitFor('the stream is open', async () => (await opens()) === 1);

  for (const n of [1, 2]) await publish(channel, { n });
  await waitFor('the first two messages live', async () => (await got()).length === 2);

  await stopServer('SIGKILL');
  // Keep the page away until the messages are published (offline only makes its attempts fail).
  await browser.context.setOffline(true);
  await startServer();
  for (const n of [3, 4, 5]) await publish(channel, { n });
  await browser.context.setOffline(false);

  await waitFor('the browser reconnected by itself', async () => (await opens()) === 2, { timeout: 20_000 });
  await waitFor('the missed messages', async () => (await got()).length >= 5);
  await publish(channel, { n: 6 });
  await waitFor('a live message after the reconnect', async () => (await got()).length >= 6);
  const all = await got();
  assert.deepEqual(all.map((m) => m.n), [1, 2, 3, 4, 5, 6], 'each message once, in order');
  assert.deepEqual(all.map((m) => m.offset), [1, 2, 3, 4, 5, 6]);
  assert.match(all[5].id, /^6:[0-9a-f]+$/, 'the id is offset:epoch');
  assert.equal(await page.evaluate(() => window.reset ?? false), false, 'recovered, not reset');
  assert.deepEqual(browser.errors, []);
});
