// The demo's streamed answer: tokens appear one by one, and Cancel (stream_cancel through the SDK)
// stops the stream for every reader and the pretend backend with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, launchBrowser, unique, waitFor } from '../lib/harness.mjs';
import { joinRoom } from '../lib/demo.mjs';

test('a streamed answer appears token by token, and cancel stops it', async (t) => {
  const browser = await launchBrowser();
  t.after(() => browser.close(t.name));
  const room = unique('room');
  const alice = await joinRoom(browser, 'alice', room);
  const bob = await joinRoom(browser, 'bob', room);
  const attr = (page, name) => page.locator('#answer').getAttribute(`data-${name}`);
  const tokens = async (page) => Number(await attr(page, 'tokens'));
  const text = (page) => page.locator('#answer').textContent();

  // A complete answer, seen by both pages, one delta per token in sequence.
  await alice.locator('#prompt').fill('short?');
  await alice.locator('#ask').click();
  const seen = [];
  await waitFor('the answer growing token by token', async () => {
    const n = await tokens(bob);
    if (n > 0 && seen[seen.length - 1] !== n) seen.push(n);
    return seen.length >= 5;
  }, { interval: 5 });
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1]);
  assert.ok(seen[0] < 10, `the first observation came early in the stream (${seen[0]} tokens)`);
  await waitFor('the answer done on both pages', async () =>
    (await attr(alice, 'reason')) === 'done' && (await attr(bob, 'reason')) === 'done', { timeout: 20_000 });
  await waitFor('the pretend backend finished', async () => (await attr(alice, 'producer')) === 'finished');
  const full = await text(alice);
  assert.match(full, /^You asked: “short\?” Switchboard streams an answer in three calls\./);
  assert.equal(await text(bob), full);
  assert.equal(await tokens(alice), full.match(/\s*\S+/g).length, 'one delta per token');
  assert.equal(await attr(alice, 'seq'), String(await tokens(alice)), 'seq numbers 1..n');
  assert.equal(await alice.locator('#stream-status').getAttribute('data-state'), 'done');

  // The finished text was also stored as one message of the ai: channel.
  const stored = await api('GET', `/api/history?channel=ai:${room}&reverse=true&limit=1`);
  assert.equal(stored.messages[0].data.text, full);
  assert.equal(stored.messages[0].data.reason, 'done');

  // A second question, cancelled by bob while it streams.
  await alice.locator('#prompt').fill('long?');
  await alice.locator('#ask').click();
  await waitFor('a few tokens of the second answer', async () => (await tokens(bob)) >= 3 && (await attr(bob, 'reason')) === null);
  await waitFor('cancel enabled', () => bob.locator('#cancel').isEnabled());
  await bob.locator('#cancel').click();
  await waitFor('cancelled on both pages', async () =>
    (await attr(alice, 'reason')) === 'cancelled' && (await attr(bob, 'reason')) === 'cancelled');
  // The backend's next append is refused (the stream is gone), so it stops on its own.
  await waitFor('the pretend backend stopped', async () => (await attr(alice, 'producer')) === 'stopped');
  const partial = await text(alice);
  assert.equal(await attr(alice, 'final-text'), partial, 'nothing was added after the end');
  assert.equal(await text(bob), partial);
  assert.ok(partial.length > 0 && partial.length < full.length, 'the answer was cut short');
  assert.equal(await alice.locator('#stream-status').textContent(), 'cancelled');
  assert.equal(await alice.locator('#cancel').isDisabled(), true);
  assert.equal(await alice.locator('#ask').isEnabled(), true, 'ready for another question');
  // The server stores the cut text too (its history write may finish just after the readers heard).
  const cancelled = await waitFor('the cancelled answer stored', async () => {
    const page = await api('GET', `/api/history?channel=ai:${room}&reverse=true&limit=1`);
    return page.messages[0]?.data.reason === 'cancelled' && page.messages[0];
  });
  assert.equal(cancelled.data.text, partial, 'the stored text is what the readers saw');

  assert.deepEqual(browser.errors, []);
});
