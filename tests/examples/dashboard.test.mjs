// examples/dashboard: two users with different permissions (Alice in North and South on
// 127.0.0.1, Bob in South and Lab on localhost: two hosts, so two session cookies in one browser)
// watch the FastAPI backend's events through /ws/dashboard. Each sees exactly the events of the
// circles and projects it picked; an event of two circles reaches a user watching both once; a
// circle a user is not in is refused with the backend's code; 120 more clients (the Python
// client, in a subprocess) all get a broadcast; a foreign origin is refused; and across a server
// restart nothing is lost and nothing comes twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { launchBrowser, startServer, stopServer, waitFor } from '../browser/lib/harness.mjs';
import { backend, root, screenshot, startExample } from './lib/example.mjs';

const badge = (page) => page.locator('#badge').evaluate((b) => ({ ...b.dataset, text: b.textContent }));
/** The events shown, as "<event id> via <circle>", in event order (they may arrive in another). */
const shown = async (page) => (await page.locator('#events li').evaluateAll((lis) => lis.map((li) => `${li.dataset.id} via ${li.dataset.via}`)))
  .sort((x, y) => Number(x.split(' ')[0].slice(4)) - Number(y.split(' ')[0].slice(4)));
const circleStates = (page) => page.locator('#circles > li').evaluateAll((lis) => lis.map((li) => `${li.dataset.circle}:${li.dataset.state ?? '-'}`));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** Waits until the page shows exactly `want`; the failure names what it showed. */
async function expectShown(page, want, what) {
  try {
    await waitFor(what, async () => same(await shown(page), want));
  } catch (e) {
    throw new Error(`${e.message}; shown: ${JSON.stringify(await shown(page))}`);
  }
}

async function login(page, user) {
  await page.locator('#login-user').selectOption(user);
  await page.locator('#login-password').fill(user);
  await page.locator('#login-submit').click();
  await waitFor(`${user} logged in and live`, async () => (await badge(page)).text === 'Live');
}

/** Posts an event to the backend's bus; returns its id. */
async function emit(app, type, circles, project, title) {
  const r = await backend(app, 'POST', '/api/events', { type, circles, project, data: { title } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.event_id;
}

async function tick(page, selector) {
  await page.bringToFront();  // a background tab's clicks wait for its throttled frames
  await page.locator(selector).check();
}

async function watchNow(page) {
  await page.bringToFront();
  await page.locator('#watch').click();
}

/** The status of a WebSocket upgrade to `url` sent with `origin`. */
function upgradeStatus(url, origin) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'), Origin: origin } });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode); });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.end();
  });
}

test('dashboard: filtered by circle and project, permissions by the backend, 120 clients, a restart with nothing lost', async (t) => {
  const app = await startExample('dashboard', {}, { command: ['/usr/bin/python3', 'backend/app.py'] });
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
  assert.match(await a.locator('#client').textContent(), /^client \S+$/, 'connection.established: the client id');
  // Each page watches its member circles at first.
  await waitFor('A watches North and South', async () => same(await circleStates(a), ['north:watching', 'south:watching', 'lab:-']));
  await waitFor('B watches South and Lab', async () => same(await circleStates(b), ['north:-', 'south:watching', 'lab:watching']));

  // Events of one circle, of two circles, with and without a project.
  const e1 = await emit(app, 'task.created', ['north'], 'apollo', 'Write the spec');
  const e2 = await emit(app, 'agent.started', ['south'], null, 'Curie started');
  const e3 = await emit(app, 'task.completed', ['lab'], 'atlas', 'Benchmarks done');
  const e4 = await emit(app, 'project.updated', ['north', 'south'], 'bridge', 'Bridge: new milestone');
  await expectShown(a, [`${e1} via north`, `${e2} via south`, `${e4} via north`], 'A: North and South, the shared event once');
  await expectShown(b, [`${e2} via south`, `${e3} via lab`, `${e4} via south`], 'B: South and Lab');
  assert.equal(await a.locator('#count-total').textContent(), '3');
  assert.deepEqual(await a.locator('#count-kinds li').allTextContents(), ['agent.started: 1', 'project.updated: 1', 'task.created: 1']);
  assert.equal(await a.locator(`#events li[data-id="${e4}"] .where`).textContent(), 'North + South / bridge');

  // Without the filters, a connection watching both circles would get the shared event twice:
  // the same subscriptions from Alice's own raw WebSocket, unfiltered. The page's filters make it once.
  await a.evaluate(async () => {
    const { ws } = await (await fetch('/api/config')).json();
    const socket = new WebSocket(ws);
    window.rawGot = [];
    await new Promise((resolve, reject) => {
      let subscribed = 0;
      socket.onerror = reject;
      socket.onmessage = (e) => {
        const f = JSON.parse(e.data);
        if (f.type === 'connected') for (const c of ['north', 'south']) socket.send(JSON.stringify({ type: 'subscribe', id: c, channel: `circle:${c}` }));
        if (f.type === 'subscribed' && ++subscribed === 2) resolve();
        if (f.type === 'message') window.rawGot.push(`${f.data.event_id} ${f.channel} ${JSON.stringify(f.tags ?? null)}`);
      };
    });
  });
  const e5 = await emit(app, 'project.updated', ['north', 'south'], 'bridge', 'Bridge: review');
  const tags = '{"circle.north":"1","circle.south":"1","kind":"project.updated","project":"bridge"}';
  await waitFor('e5 twice on the unfiltered socket', async () => same(await a.evaluate(() => window.rawGot.slice().sort()), [`${e5} circle:north ${tags}`, `${e5} circle:south ${tags}`]));
  await waitFor('e5 once in A and once in B', async () =>
    same((await shown(a)).filter((s) => s.startsWith(`${e5} `)), [`${e5} via north`]) && same((await shown(b)).filter((s) => s.startsWith(`${e5} `)), [`${e5} via south`]));

  // Bob asks for North too: the backend's subscribe proxy refuses it with its own code, shown on
  // the page; South and Lab are watched again. Alice narrows North to project apollo.
  await tick(b, '#circles > li[data-circle="north"] input.circle');
  await watchNow(b);
  await waitFor('NOT_IN_CIRCLE in B', async () => (await b.locator('#errors li[data-circle="north"]').getAttribute('data-code', { timeout: 200 })) === 'NOT_IN_CIRCLE');
  assert.equal(await b.locator('#errors li[data-circle="north"]').textContent(), 'NOT_IN_CIRCLE: you are not in circle North');
  await waitFor('B watches South and Lab only', async () => same(await circleStates(b), ['north:refused', 'south:watching', 'lab:watching']));
  await tick(a, '#circles > li[data-circle="north"] input.project[data-project="apollo"]');
  await watchNow(a);
  await waitFor('A watches again', async () => same(await circleStates(a), ['north:watching', 'south:watching', 'lab:-']) && (await shown(a)).length === 0);

  // Alice: North's apollo, all of South; a bridge event (North and South) now comes via South.
  const e6 = await emit(app, 'task.created', ['north', 'south'], 'bridge', 'Bridge: load tests');
  const e7 = await emit(app, 'task.completed', ['north'], 'apollo', 'Spec reviewed');
  const e8 = await emit(app, 'task.created', ['north'], 'bridge', 'North-only bridge task');
  const e9 = await emit(app, 'agent.stopped', ['lab'], null, 'Darwin stopped');
  await expectShown(a, [`${e6} via south`, `${e7} via north`], 'A: apollo via North, bridge via South');
  await expectShown(b, [`${e6} via south`, `${e9} via lab`], 'B: nothing of North');

  // 120 more dashboards (the Python client, Carol's session, /ws/dashboard?client_id=load-<i>)
  // watch Lab: one event reaches each of them once, and Bob.
  const load = spawn('/usr/bin/python3', [join(root, 'examples/dashboard/load.py'), '--clients', '120', '--user', 'carol', '--circle', 'lab',
    '--events', '1', '--timeout', '30', '--backend', app.backendUrl, '--ws', `${app.sbUrl.replace('http', 'ws')}/ws/dashboard`],
  { env: { ...process.env, PYTHONPATH: join(root, 'clients/python') }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => load.kill());
  const lines = createInterface({ input: load.stdout })[Symbol.asyncIterator]();
  assert.deepEqual(JSON.parse((await lines.next()).value), { ready: 120, connected: 120 });
  const statsNow = (await backend(app, 'GET', '/admin/websocket/stats')).body;
  assert.ok(statsNow.active_connections >= 122, JSON.stringify(statsNow));
  assert.equal(statsNow.total_broadcasts, 9);
  const e10 = await emit(app, 'task.created', ['lab'], 'atlas', 'Broadcast to every Lab dashboard');
  assert.deepEqual(JSON.parse((await lines.next()).value), { clients_with: { [e10]: 120 }, deliveries: { [e10]: 120 } });
  await waitFor('e10 in B', async () => (await shown(b)).includes(`${e10} via lab`));

  // The origin check: an upgrade from another origin is refused before any WebSocket exists.
  const wsUrl = `${app.sbUrl}/ws/dashboard?client_id=x`;
  assert.equal(await upgradeStatus(wsUrl, 'http://evil.example:3000'), 403);
  assert.equal(await upgradeStatus(wsUrl, app.backendUrl), 101);  // the page's origin

  // Ping / pong, as the document's test does by hand.
  await a.bringToFront();
  await a.locator('#ping').click();
  await waitFor('pong', async () => /^pong in \d+ ms$/.test(await a.locator('#rtt').textContent()));

  // The server stops; the bus goes on (the backend keeps its events until the server is back).
  // The server starts again on the same data while the tabs are kept offline, so the events
  // reach them through recovery, each once, by their filters.
  await stopServer();
  for (const p of [a, b]) await waitFor('Reconnecting...', async () => (await badge(p)).text === 'Reconnecting...');
  const e11 = await emit(app, 'task.created', ['south'], 'zephyr', 'Written while the server was down');
  const e12 = await emit(app, 'project.updated', ['north', 'south'], 'bridge', 'Bridge: while down');
  const e13 = await emit(app, 'task.created', ['north'], 'bridge', 'North bridge, while down (Alice does not watch it)');
  await browser.context.setOffline(true);
  await startServer();
  await waitFor('the backend published its events', async () => (await backend(app, 'GET', '/api/status')).body.pending === 0);
  for (const p of [a, b]) assert.equal((await badge(p)).text, 'Reconnecting...');
  await browser.context.setOffline(false);
  for (const p of [a, b]) {
    await waitFor('Live again', async () => { const s = await badge(p); return s.text === 'Live' && s.connects === '2'; }, { timeout: 20_000 });
  }
  const e14 = await emit(app, 'task.completed', ['north', 'south'], 'bridge', 'Bridge: live after the restart');
  const e15 = await emit(app, 'task.completed', ['lab'], 'atlas', 'Lab: live after the restart');
  const wantA = [`${e6} via south`, `${e7} via north`, `${e11} via south`, `${e12} via south`, `${e14} via south`];
  const wantB = [`${e6} via south`, `${e9} via lab`, `${e10} via lab`, `${e11} via south`, `${e12} via south`, `${e14} via south`, `${e15} via lab`];
  await expectShown(a, wantA, 'A: every event once');
  await expectShown(b, wantB, 'B: every event once');
  assert.equal((await shown(a)).some((s) => s.startsWith(`${e13} `)), false);
  assert.equal(await b.locator('#count-total').textContent(), String(wantB.length));

  // The picture for docs/examples.md: Alice's dashboard.
  await a.setViewportSize({ width: 1000, height: 600 });
  await a.bringToFront();
  await screenshot(a, 'dashboard');
  assert.deepEqual(browser.errors, []);
});

test('dashboard: while Switchboard is away the bus keeps a bounded outbox and refuses events past it', async (t) => {
  const app = await startExample('dashboard', { DASHBOARD_MAX_OUTBOX: '5' }, { command: ['/usr/bin/python3', 'backend/app.py'] });
  t.after(() => app.stop());
  await stopServer();
  const post = (circles) => backend(app, 'POST', '/api/events', { type: 'task.created', circles, project: null, data: { title: 'queued' } });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await post(['lab'])).status);
  statuses.push((await post(['north', 'south'])).status);  // two publications: one slot left, refused whole
  statuses.push((await post(['south'])).status);
  statuses.push((await post(['lab'])).status);
  assert.deepEqual(statuses, [202, 202, 202, 202, 503, 202, 503]);
  assert.deepEqual((await backend(app, 'GET', '/api/status')).body, { pending: 5, events: 5 });
  assert.equal((await backend(app, 'POST', '/api/events', { type: 'task.created', circles: ['lab'], data: 'text' })).body.error.code, 'BAD_EVENT');
  await startServer();
  await waitFor('the backend published the five', async () => (await backend(app, 'GET', '/api/status')).body.pending === 0);
  const history = await (await fetch(`${app.sbUrl}/api/history?channel=circle:lab`, { headers: { Authorization: `Bearer ${app.apiKey}` } })).json();
  // (The data dir is the first test's: its messages come first.)
  assert.deepEqual(history.messages.filter((m) => m.data.data.title === 'queued').map((m) => [m.data.event_id, m.tags]),
    ['evt_1', 'evt_2', 'evt_3', 'evt_4'].map((id) => [id, { 'circle.lab': '1', kind: 'task.created' }]));
  assert.equal((await post(['lab'])).status, 202);
});
