// The server dies (SIGKILL) and comes back on the same port with the same data dir: the demo page
// reconnects by itself and shows what was published meanwhile, once each, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, publish, startServer, stopServer, unique, waitFor } from '../lib/harness.mjs';
import { chatLines, joinRoom, offsetsShown } from '../lib/demo.mjs';

test('a page reconnects after the server is killed and restarted, and shows what it missed once, in order', async (t) => {
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.context.setOffline(false).catch(() => {});
    await browser.close(t.name);
  });
  const room = unique('room');
  const channel = `chat:${room}`;
  const alice = await joinRoom(browser, 'alice', room);
  const state = () => alice.locator('#conn-state').getAttribute('data-state');
  const connects = async () => Number(await alice.locator('#conn-state').getAttribute('data-connects'));

  await publish(channel, { user: 'server', text: 'one' });
  await publish(channel, { user: 'server', text: 'two' });
  await waitFor('the first two messages live', async () => (await chatLines(alice)).length === 2);
  assert.equal(await connects(), 1);

  await stopServer('SIGKILL');
  await waitFor('the page notices the server is gone', async () => (await state()) === 'disconnected');
  // Keep the page away until the messages are published: the SDK retries on its own backoff, and
  // without this it could be back between the restart and the first publish. Offline emulation
  // only makes its attempts fail; it does not touch the page's code.
  await browser.context.setOffline(true);
  await startServer();
  for (const text of ['three', 'four', 'five']) await publish(channel, { user: 'server', text });
  // Alice writes while disconnected: the SDK queues it and sends it once reconnected.
  await alice.locator('#message-input').fill('written while offline');
  await alice.locator('#send').click();
  assert.equal(await state(), 'disconnected', 'the page was away while the messages were published');
  assert.equal(await connects(), 1);
  await browser.context.setOffline(false);

  const expected = ['server: one', 'server: two', 'server: three', 'server: four', 'server: five', 'alice: written while offline'];
  await waitFor('the page reconnected by itself', async () => (await state()) === 'connected' && (await connects()) === 2, { timeout: 20_000 });
  await waitFor('the missed messages, then the queued one', async () => (await chatLines(alice)).join('|') === expected.join('|'));
  await publish(channel, { user: 'server', text: 'six' });
  await waitFor('a live message after the reconnect', async () => (await chatLines(alice)).length === 7);
  assert.deepEqual(await chatLines(alice), [...expected, 'server: six']);
  assert.deepEqual(await offsetsShown(alice), [1, 2, 3, 4, 5, 6, 7], 'each offset once, in order');
  assert.equal(await alice.locator('#send-error').isHidden(), true, 'the queued message was not refused');
  const notes = await alice.locator('#chat-messages li.system').allTextContents();
  assert.ok(!notes.some((n) => /started over|could not be fetched/.test(n)),
    `recovered from the position held, without a reset or a gap: ${notes.join(' / ')}`);

  assert.deepEqual(browser.errors, []);
});
