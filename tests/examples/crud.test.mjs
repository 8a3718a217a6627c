// examples/crud: two tabs of the cassettes list. A change made in one tab appears in the other
// with a notification; when the server restarts, both badges go from Live to Reconnecting... and
// back, and the changes made meanwhile (one in a tab while the server was down, two by someone
// else while both tabs were away) reach both tabs, each event once, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startServer, stopServer, waitFor } from '../browser/lib/harness.mjs';
import { backend, screenshot, startExample } from './lib/example.mjs';

const names = (page) => page.locator('#cassettes tr:not(.fade-out)').evaluateAll((rows) => rows.map((r) => r.dataset.name));
const description = (page, name) => page.locator(`#cassettes tr[data-name="${name}"]:not(.fade-out) input`).inputValue({ timeout: 500 });
const badge = (page) => page.locator('#badge').evaluate((b) => ({ ...b.dataset, text: b.textContent }));
const events = (page) => page.locator('#events li').evaluateAll((lis) => lis.map((li) => `${li.dataset.offset} ${li.textContent}`));
const snacks = (page) => page.locator('#snackbar div').allTextContents();
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function create(page, name, text) {
  await page.bringToFront();  // a background tab's clicks wait for its throttled frames
  await page.locator('#new-name').fill(name);
  await page.locator('#new-description').fill(text);
  await page.locator('#create').click();
}

test('crud: changes reach every tab live, and across a server restart nothing is lost', async (t) => {
  const app = await startExample('crud');
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.context.setOffline(false).catch(() => {});
    await browser.close(t.name);
    await app.stop();
  });
  const [a, b] = [await browser.context.newPage(), await browser.context.newPage()];
  await a.goto(app.backendUrl);
  await b.goto(app.backendUrl);
  for (const p of [a, b]) await waitFor('Live', async () => (await badge(p)).text === 'Live');
  assert.deepEqual(await names(b), ['checkout', 'login-flow']);

  // Created in A: appears in B, with a notification. Updated in B: changes in A.
  await create(a, 'alpha', 'first take');
  await waitFor('alpha in B', async () => (await names(b)).includes('alpha'));
  await waitFor('the notification in B', async () => (await snacks(b)).includes('New cassette: alpha'));
  await b.bringToFront();
  await b.locator('#cassettes tr[data-name="alpha"] input').fill('edited in B');
  await b.locator('#cassettes tr[data-name="alpha"] .save').click();
  await waitFor('the update in A', async () => (await description(a, 'alpha')) === 'edited in B');

  // The server stops: both badges say so. A creates beta meanwhile: the backend keeps the event
  // until the server is back. Someone else (this test, over the REST API) then deletes alpha and
  // creates gamma while both tabs are still away.
  await stopServer();
  for (const p of [a, b]) await waitFor('Reconnecting...', async () => (await badge(p)).text === 'Reconnecting...');
  await create(a, 'beta', 'made while the server was down');
  await waitFor('beta in A at once', async () => (await names(a)).includes('beta'));
  assert.equal((await names(b)).includes('beta'), false, 'B cannot know yet');
  await browser.context.setOffline(true);  // keep the tabs away until the other changes are made
  await startServer();
  await waitFor('the backend published beta', async () => (await backend(app, 'GET', '/api/cassettes')).body.pending === 0);
  assert.equal((await backend(app, 'DELETE', '/api/cassettes/alpha')).status, 204);
  assert.equal((await backend(app, 'POST', '/api/cassettes', { name: 'gamma', description: 'made by someone else' })).status, 201);
  await waitFor('the backend published those', async () => (await backend(app, 'GET', '/api/cassettes')).body.pending === 0);
  for (const p of [a, b]) assert.equal((await badge(p)).text, 'Reconnecting...');
  await browser.context.setOffline(false);

  const expected = ['beta', 'checkout', 'gamma', 'login-flow'];
  for (const p of [a, b]) {
    await waitFor('Live again', async () => { const s = await badge(p); return s.text === 'Live' && s.connects === '2'; }, { timeout: 20_000 });
    await waitFor('the changes made while away', async () => same(await names(p), expected));
  }
  assert.equal(await description(b, 'beta'), 'made while the server was down');

  // Live again: deleted in B, gone from A.
  await b.bringToFront();
  await b.locator('#cassettes tr[data-name="checkout"] .delete').click();
  await waitFor('checkout gone from A', async () => same(await names(a), ['beta', 'gamma', 'login-flow']));
  await waitFor('the notification in A', async () => (await snacks(a)).includes('Cassette deleted: checkout'));

  // Every event once, in order, in both tabs.
  const log = ['1 CassetteCreated alpha', '2 CassetteUpdated alpha', '3 CassetteCreated beta', '4 CassetteDeleted alpha',
    '5 CassetteCreated gamma', '6 CassetteDeleted checkout'];
  for (const p of [a, b]) await waitFor('the event log', async () => same(await events(p), log));

  // The picture for docs/examples.md: B once A's last creation has arrived and settled.
  await b.setViewportSize({ width: 900, height: 560 });
  await create(a, 'search-api', 'Search with filters');
  await waitFor('search-api in B, notified', async () =>
    (await snacks(b)).includes('New cassette: search-api') && b.evaluate(() => document.getAnimations().length === 0));
  await b.bringToFront();
  await screenshot(b, 'crud');
  assert.deepEqual(browser.errors, []);
});

test('crud: while Switchboard is away the backend keeps a bounded outbox and refuses changes past it', async (t) => {
  const app = await startExample('crud', { CRUD_MAX_OUTBOX: '5' });
  t.after(() => app.stop());
  await stopServer();
  const statuses = [];
  for (let i = 0; i < 20; i++) {
    statuses.push((await backend(app, 'POST', '/api/cassettes', { name: `flood-${i}`, description: 'x' })).status);
  }
  assert.deepEqual(statuses, [...Array(5).fill(201), ...Array(15).fill(503)]);
  const listed = (await backend(app, 'GET', '/api/cassettes')).body;
  assert.equal(listed.pending, 5);
  assert.equal(listed.cassettes.filter((c) => c.name.startsWith('flood-')).length, 5, 'a refused change is not applied');
  await startServer();
  await waitFor('the backend published the five', async () => (await backend(app, 'GET', '/api/cassettes')).body.pending === 0);
  assert.equal((await backend(app, 'POST', '/api/cassettes', { name: 'after', description: 'x' })).status, 201);
});
