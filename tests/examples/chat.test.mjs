// examples/chat: two users (Alice on 127.0.0.1, Bob on localhost: two hosts, so two session
// cookies in one browser) in the same room. History on join, typing, live messages acked with
// the backend's id and the sender's name from the server's `from`, a forged sender ignored, a
// private room refused by the backend, presence, and a server restart during which Alice writes
// and the backend announces: both arrive once, in both tabs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launchBrowser, startServer, stopServer, waitFor } from '../browser/lib/harness.mjs';
import { backend, screenshot, startExample } from './lib/example.mjs';

const badge = (page) => page.locator('#badge').evaluate((b) => ({ ...b.dataset, text: b.textContent }));
const messages = (page) => page.locator('#messages li').evaluateAll((lis) => lis.map((li) => ({
  name: li.querySelector('.name').textContent, text: li.querySelector('.text').textContent,
  id: li.dataset.id ?? null, state: li.dataset.state, code: li.dataset.code ?? null,
})));
const presence = (page) => page.locator('#presence li').evaluateAll((lis) => lis.map((li) => li.textContent).sort());
const typing = (page) => page.locator('#typing').textContent();
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const count = (list, text) => list.filter((m) => m.text === text).length;

async function login(page, user) {
  await page.locator('#login-user').selectOption(user);
  await page.locator('#login-password').fill(user);
  await page.locator('#login-submit').click();
  await waitFor(`${user} logged in and live`, async () => (await badge(page)).text === 'Live');
}

async function joinRoom(page, id) {
  await page.bringToFront();  // a background tab's clicks wait for its throttled frames
  await page.locator(`#rooms li[data-room="${id}"] button`).click();
}

async function say(page, text) {
  await page.bringToFront();
  await page.locator('#text').fill(text);
  await page.locator('#send').click();
}

/** The messages the backend stored for a room, read with a session of its own. */
async function stored(app, room) {
  const r = await fetch(`${app.backendUrl}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"user":"alice","password":"alice"}' });
  const cookie = r.headers.get('set-cookie').split(';')[0];
  return (await (await fetch(`${app.backendUrl}/api/rooms/${room}/messages`, { headers: { cookie } })).json()).messages;
}

test('chat: rooms, history, typing, acks, presence and a server restart with nothing lost', async (t) => {
  const app = await startExample('chat', { CHAT_DATA: join(process.env.SB_WORK, 'chat', 'messages.json') });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.context.setOffline(false).catch(() => {});
    await browser.close(t.name);
    await app.stop();
  });
  const [a, b] = [await browser.context.newPage(), await browser.context.newPage()];
  await a.goto(app.backendUrl);
  await b.goto(app.backendUrl.replace('127.0.0.1', 'localhost'));
  await login(a, 'alice');
  await login(b, 'bob');
  assert.equal(await a.locator('#me').textContent(), 'Alice');
  assert.equal(await b.locator('#me').textContent(), 'Bob');

  // The room list comes from the backend (rpc `rooms`): the private room is listed for both,
  // as a member's for Alice only.
  const rooms = (page) => page.locator('#rooms li').evaluateAll((lis) => lis.map((li) => `${li.dataset.room}:${li.dataset.member}`));
  await waitFor('the room lists', async () => (await rooms(a)).length === 3 && (await rooms(b)).length === 3);
  assert.deepEqual(await rooms(a), ['general:true', 'random:true', 'staff:true']);
  assert.deepEqual(await rooms(b), ['general:true', 'random:true', 'staff:false']);

  // A joins General: the history has the backend's welcome. A's first message is pending, then
  // confirmed with the id the backend stored it under.
  await joinRoom(a, 'general');
  await waitFor('the welcome in A', async () => same(await messages(a), [{ name: 'Room bot', text: 'Welcome to General!', id: 'm1', state: 'confirmed', code: null }]));
  await say(a, 'Hello, is anyone here?');
  await waitFor('A\'s first message confirmed', async () => (await messages(a))[1]?.state === 'confirmed' && (await messages(a))[1]?.id);
  const first = (await stored(app, 'general')).find((m) => m.text === 'Hello, is anyone here?');
  assert.equal(first.user, 'alice');
  assert.equal((await messages(a))[1].id, first.id);

  // B joins: the history has both, A's under A's name; presence lists both in both tabs.
  await joinRoom(b, 'general');
  await waitFor('the history in B', async () => same(await messages(b), [
    { name: 'Room bot', text: 'Welcome to General!', id: 'm1', state: 'confirmed', code: null },
    { name: 'Alice', text: 'Hello, is anyone here?', id: first.id, state: 'confirmed', code: null },
  ]));
  for (const p of [a, b]) await waitFor('presence: both', async () => same(await presence(p), ['Alice', 'Bob']));

  // A types: B sees it, then it goes away on its own (3 s after the last key).
  await a.bringToFront();
  await a.locator('#text').pressSequentially('Hi B');
  await waitFor('"Alice is typing…" in B', async () => (await typing(b)) === 'Alice is typing…');
  assert.equal(await typing(a), '', 'no echo of one\'s own indicator');
  await waitFor('the indicator gone in B', async () => (await typing(b)) === '', { timeout: 8000 });

  // A sends: B gets it live with A's name and the backend's id; A's copy is confirmed, same id.
  await say(a, 'Hi Bob!');
  await waitFor('the live message in B', async () => (await messages(b)).some((m) => m.text === 'Hi Bob!'));
  const live = (await messages(b)).find((m) => m.text === 'Hi Bob!');
  assert.equal(live.name, 'Alice');
  assert.match(live.id, /^m\d+$/);
  await waitFor('confirmed in A', async () => same((await messages(a)).find((m) => m.text === 'Hi Bob!'), live));
  assert.equal((await stored(app, 'general')).find((m) => m.id === live.id).text, 'Hi Bob!');

  // A publishes through a WebSocket of its own, claiming to be Bob in the data and in the frame:
  // the name shown is the server's `from` (Alice), and the backend kept only the text.
  const forged = await a.evaluate(async () => {
    const { ws } = await (await fetch('/api/config')).json();
    const socket = new WebSocket(ws);
    const replies = [];
    await new Promise((resolve, reject) => {
      socket.onerror = reject;
      socket.onmessage = (e) => {
        const f = JSON.parse(e.data);
        replies.push(f.type);
        if (f.type === 'connected') socket.send(JSON.stringify({ type: 'subscribe', id: 1, channel: 'room:general' }));
        if (f.type === 'subscribed') {
          socket.send(JSON.stringify({ type: 'publish', id: 2, channel: 'room:general', from: { user: 'bob', info: { name: 'Bob' } },
            data: { text: 'I am Bob, honest', name: 'Bob', user: 'bob', from: { user: 'bob', info: { name: 'Bob' } } } }));
        }
        if (f.id === 2) resolve();
      };
    });
    socket.close();
    return replies;
  });
  assert.ok(forged.includes('published'), JSON.stringify(forged));
  for (const p of [a, b]) {
    await waitFor('the forged message', async () => (await messages(p)).some((m) => m.text === 'I am Bob, honest'));
    assert.equal((await messages(p)).find((m) => m.text === 'I am Bob, honest').name, 'Alice');
  }

  // Refusals by the backend, shown with its code: a message too long (publish proxy), a room
  // Bob may not join (subscribe proxy; he stays where he was).
  await say(a, 'x'.repeat(501));
  await waitFor('MESSAGE_TOO_LONG in A', async () => (await messages(a)).some((m) => m.state === 'failed' && m.code === 'MESSAGE_TOO_LONG'));
  await joinRoom(b, 'staff');
  await waitFor('NOT_A_MEMBER in B', async () => (await b.locator('#error').getAttribute('data-code')) === 'NOT_A_MEMBER');
  assert.match(await b.locator('#error').textContent(), /^NOT_A_MEMBER: Staff only is for its members only/);
  assert.equal(await b.locator('#room-title').textContent(), 'General');
  assert.equal((await messages(b)).some((m) => m.text.startsWith('xxx')), false);

  // The server stops. A writes meanwhile (pending in the SDK's offline queue) and the backend
  // announces something (pending in its outbox). The server starts again on the same data while
  // the tabs are kept offline, so the announcement reaches them through recovery.
  await stopServer();
  for (const p of [a, b]) await waitFor('Reconnecting...', async () => (await badge(p)).text === 'Reconnecting...');
  await say(a, 'Written while the server was down');
  await waitFor('pending in A', async () => (await messages(a)).at(-1).state === 'pending');
  assert.equal((await backend(app, 'POST', '/api/rooms/general/announce', { text: 'Maintenance is over' })).status, 202);
  await browser.context.setOffline(true);
  await startServer();
  await waitFor('the backend published its announcement', async () => (await backend(app, 'GET', '/api/status')).body.pending === 0);
  assert.equal((await messages(a)).at(-1).state, 'pending', 'A is still away');
  await browser.context.setOffline(false);
  for (const p of [a, b]) {
    await waitFor('Live again', async () => { const s = await badge(p); return s.text === 'Live' && s.connects === '2'; }, { timeout: 20_000 });
  }
  await waitFor('A\'s message confirmed', async () => (await messages(a)).find((m) => m.text === 'Written while the server was down')?.state === 'confirmed');
  await say(a, 'Back again');
  for (const p of [a, b]) {
    await waitFor('everything in both tabs', async () => {
      const list = await messages(p);
      return ['Written while the server was down', 'Maintenance is over', 'Back again'].every((text) => count(list, text) === 1);
    });
    await waitFor('presence: both again', async () => same(await presence(p), ['Alice', 'Bob']));
  }
  const announcement = (await messages(b)).find((m) => m.text === 'Maintenance is over');
  assert.equal(announcement.name, 'Room bot');

  // Both tabs hold the same messages, each once, in the same order, with the backend's ids (the
  // refused one only in A, as failed).
  const delivered = async (p) => (await messages(p)).filter((m) => m.state !== 'failed');
  await waitFor('the same list in both', async () => same(await delivered(a), await delivered(b)));
  const final = await delivered(b);
  assert.deepEqual(final.map((m) => m.text), ['Welcome to General!', 'Hello, is anyone here?', 'Hi Bob!', 'I am Bob, honest',
    ...(final[4].text === 'Maintenance is over' ? ['Maintenance is over', 'Written while the server was down'] : ['Written while the server was down', 'Maintenance is over']),
    'Back again']);
  assert.equal(new Set(final.map((m) => m.id)).size, final.length, 'each id once');
  const ids = (await stored(app, 'general')).map((m) => m.id);
  assert.ok(final.every((m) => ids.includes(m.id)), 'every id is one the backend stored');
  assert.ok(final.every((m) => m.state === 'confirmed'));

  // The picture for docs/examples.md: B, with Alice typing.
  await b.setViewportSize({ width: 1000, height: 600 });
  await a.bringToFront();
  await a.locator('#text').pressSequentially('Any news?');
  await waitFor('"Alice is typing…" in B', async () => (await typing(b)) === 'Alice is typing…');
  await b.bringToFront();
  await screenshot(b, 'chat');
  assert.deepEqual(browser.errors, []);
});
