// The dashboard's counters, plot, channel list, watched channel and publish form follow what
// clients do on the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, launchBrowser, publish, unique, waitFor, texts } from '../lib/harness.mjs';

test('dashboard counters, plot and channel view move when clients connect and publish', async (t) => {
  const browser = await launchBrowser();
  t.after(() => browser.close(t.name));
  const dash = await browser.newPage('/dashboard/');
  const figure = async (id) => Number(await dash.locator(`#${id}`).textContent());
  const canvasImage = () => dash.locator('#plot canvas').first().evaluate((c) => c.toDataURL());
  const redraws = async () => Number(await dash.locator('#plot').getAttribute('data-redraws'));

  // The first poll fills the figures (they show "–" before it).
  await waitFor('the first /api/stats figures', async () => Number.isFinite(await figure('stat-connections')));
  assert.equal(await dash.locator('#api-key-hint').getAttribute('data-auth'), 'optional',
    'on loopback without configured keys the API key is optional');
  assert.equal(await dash.locator('#plot canvas').count() > 0, true, 'the plot has a canvas');
  const before = {
    connections: await figure('stat-connections'),
    subscriptions: await figure('stat-subscriptions'),
    in: await figure('stat-messages-in'),
    out: await figure('stat-messages-out'),
    redraws: await redraws(),
    image: await canvasImage(),
  };

  // Three WebSocket clients from another tab subscribe to one channel.
  const channel = unique('chat:dash');
  const clients = await browser.newPage('/healthz');
  await clients.evaluate(async ({ url, channel }) => {
    window.sockets = await Promise.all([0, 1, 2].map(() => new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onmessage = (e) => { if (JSON.parse(e.data).type === 'subscribed') resolve(ws); };
      ws.onopen = () => ws.send(JSON.stringify({ type: 'subscribe', id: 1, channel }));
      ws.onerror = reject;
    })));
  }, { url: baseUrl().replace('http', 'ws') + '/ws', channel });

  await waitFor('connections +3', async () => (await figure('stat-connections')) >= before.connections + 3);
  await waitFor('subscriptions +3', async () => (await figure('stat-subscriptions')) >= before.subscriptions + 3);
  const row = dash.locator(`#channels-body tr[data-channel="${channel}"]`);
  await waitFor('the channel listed with 3 subscribers', async () => (await row.count()) === 1 && (await row.locator('td.num').textContent()) === '3');

  // Publications over HTTP move messages in/out, the per-second rate and the plot.
  for (let i = 1; i <= 10; i++) await publish(channel, { user: 'tester', text: `message ${i}` });
  await waitFor('messages in +10', async () => (await figure('stat-messages-in')) >= before.in + 10);
  await waitFor('messages out +30', async () => (await figure('stat-messages-out')) >= before.out + 30);
  await waitFor('a non-zero rate of messages in', async () => parseFloat(await dash.locator('#stat-rate-in').textContent()) > 0);
  await waitFor('the plot redrawn', async () => (await redraws()) > before.redraws);
  await waitFor('different pixels on the plot', async () => (await canvasImage()) !== before.image);
  assert.ok(Number(await dash.locator('#plot').getAttribute('data-points')) >= 2, 'the plot holds several samples');

  // Watching the channel shows its members and its last messages, newest first.
  await row.click();
  await waitFor('the watched channel', async () => (await dash.locator('#watched-channel').textContent()) === channel);
  await waitFor('the last messages from history', async () => (await dash.locator('#messages li[data-offset]').count()) === 10);
  const shown = await texts(dash, '#messages li[data-offset] .data');
  assert.match(shown[0], /message 10/);
  assert.match(shown[9], /message 1"/);
  await waitFor('the members (3 clients and the dashboard itself)', async () => (await dash.locator('#presence li[data-client]').count()) === 4);
  assert.deepEqual((await texts(dash, '#presence li[data-client]')).filter((m) => m === 'dashboard'), ['dashboard']);
  await waitFor('live view', async () => (await dash.locator('#live-status').textContent()) === 'live');

  // The publish form: its message arrives live at the top of the list.
  assert.equal(await dash.locator('#publish-channel').inputValue(), channel);
  await dash.locator('#publish-data').fill('{"user":"dashboard","text":"from the form"}');
  await dash.locator('#publish-form button[type=submit]').click();
  await waitFor('the publish result', async () => /published at offset 11/.test(await dash.locator('#publish-result').textContent()));
  await waitFor('the published message live on top', async () =>
    (await dash.locator('#messages li[data-offset]').first().getAttribute('data-offset')) === '11');
  assert.match(await dash.locator('#messages li[data-offset] .data').first().textContent(), /from the form/);

  // A client leaving shows in the members, the counters and the channel list.
  await clients.evaluate(() => window.sockets[0].close());
  await waitFor('members down to 3', async () => (await dash.locator('#presence li[data-client]').count()) === 3);
  await waitFor('the channel listed with 3 subscribers (2 clients, the dashboard)', async () => (await row.locator('td.num').textContent()) === '3');
  await clients.close();
  await waitFor('connections back down', async () => (await figure('stat-connections')) <= before.connections + 1);

  assert.deepEqual(browser.errors, []);
});
