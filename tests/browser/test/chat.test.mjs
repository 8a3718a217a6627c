// Two people chat in the demo: each sees the other's messages, typing and presence; someone who
// joins later gets the history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, unique, waitFor } from '../lib/harness.mjs';
import { chatLines, joinRoom, members, say } from '../lib/demo.mjs';

test('two pages chat in the demo and see messages, typing and presence', async (t) => {
  const browser = await launchBrowser();
  t.after(() => browser.close(t.name));
  const room = unique('room');
  const alice = await joinRoom(browser, 'alice', room);
  const bob = await joinRoom(browser, 'bob', room);

  // Presence, both ways.
  await waitFor('alice sees bob', async () => (await members(alice)).join() === 'alice,bob');
  await waitFor('bob sees alice', async () => (await members(bob)).join() === 'alice,bob');
  await waitFor('alice is told bob joined', async () =>
    (await alice.locator('#chat-messages li.system').allTextContents()).includes('bob joined'));

  // Typing: a keystroke shows on the other page, sending clears it.
  await alice.locator('#message-input').pressSequentially('hello b');
  await waitFor('bob sees alice typing', async () => (await bob.locator('#typing').textContent()) === 'alice is typing…');
  assert.equal(await alice.locator('#typing').textContent(), '', 'nobody else is typing for alice');
  await alice.locator('#message-input').pressSequentially('ob');
  await alice.locator('#send').click();
  await waitFor('bob sees alice stop typing', async () => (await bob.locator('#typing').textContent()) === '');

  // Messages, both ways, once each and in order on both pages.
  await waitFor('bob gets alice\'s message', async () => (await chatLines(bob)).includes('alice: hello bob'));
  await bob.locator('#message-input').pressSequentially('hi alice');
  await waitFor('alice sees bob typing', async () => (await alice.locator('#typing').textContent()) === 'bob is typing…');
  await bob.locator('#message-input').press('Enter');
  await say(alice, 'how are you?');
  const expected = ['alice: hello bob', 'bob: hi alice', 'alice: how are you?'];
  for (const [who, page] of [['alice', alice], ['bob', bob]])
    await waitFor(`${who} shows the three messages in order`, async () => (await chatLines(page)).join('|') === expected.join('|'));
  assert.equal(await alice.locator('#chat-messages li.mine').count(), 2, 'alice\'s own messages are marked as hers');

  // Someone joining later gets the history; the others see her arrive, then leave.
  const carol = await joinRoom(browser, 'carol', room);
  await waitFor('carol gets the history', async () => (await chatLines(carol)).join('|') === expected.join('|'));
  await waitFor('alice sees carol', async () => (await members(alice)).join() === 'alice,bob,carol');
  await carol.locator('#leave').click();
  await waitFor('alice sees carol leave', async () => (await members(alice)).join() === 'alice,bob');
  await waitFor('bob is told carol left', async () =>
    (await bob.locator('#chat-messages li.system').allTextContents()).includes('carol left'));
  await bob.close();
  await waitFor('alice sees bob go when his tab closes', async () => (await members(alice)).join() === 'alice');

  assert.deepEqual(browser.errors, []);
});
