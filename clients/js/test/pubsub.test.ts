import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Switchboard, SwitchboardError, type Message } from '../src/index.js';
import { TestServer, sleep, waitFor } from './server.js';

let server: TestServer;
const clients: Switchboard[] = [];

function client(options: ConstructorParameters<typeof Switchboard>[1] = {}): Switchboard {
  const c = new Switchboard(server.wsUrl, { reconnect: { minDelay: 50, maxDelay: 300 }, ...options });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await TestServer.start();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await server.stop();
});

describe('connection', () => {
  it('goes connecting -> connected and reports the server greeting (ws package under Node)', async () => {
    const states: string[] = [];
    const c = new Switchboard(server.wsUrl, { autoConnect: false, user: 'alice', info: { name: 'Alice' } });
    clients.push(c);
    c.on('state', (e) => states.push(e.state));
    const connected = new Promise((r) => c.once('connected', r));
    c.connect();
    const e = (await connected) as { client: string; user: string; reconnected: boolean };
    expect(states).toEqual(['connecting', 'connected']);
    expect(e.client).toMatch(/^[0-9a-f]{8,32}$/);
    expect(e.user).toBe('alice');
    expect(e.reconnected).toBe(false);
    expect(c.clientId).toBe(e.client);
    c.close();
    expect(c.state).toBe('closed');
    expect(states.at(-1)).toBe('closed');
  });

  it('answers ping', async () => {
    const c = client();
    expect(await c.ping()).toBeGreaterThanOrEqual(0);
  });
});

describe('pub/sub', () => {
  it('delivers a publish to another client, in order, with offsets and epoch', async () => {
    const a = client({ user: 'a' });
    const b = client({ user: 'b' });
    const subA = a.subscribe<{ n: number }>('chat:pubsub');
    const got: Message<{ n: number }>[] = [];
    subA.on('message', (m) => got.push(m));
    const ready = await subA.ready;
    expect(ready.channel).toBe('chat:pubsub');
    expect(ready.epoch).toMatch(/^[0-9a-f]{12}$/);

    const results = [];
    for (let n = 1; n <= 5; n++) results.push(await b.publish('chat:pubsub', { n }));
    await waitFor(() => got.length === 5, 5000, '5 messages');
    expect(got.map((m) => m.data.n)).toEqual([1, 2, 3, 4, 5]);
    expect(got.map((m) => m.offset)).toEqual(results.map((r) => r.offset));
    expect(new Set(got.map((m) => m.epoch))).toEqual(new Set([ready.epoch]));
    expect(results[0]!.epoch).toBe(ready.epoch);
    expect(subA.position).toEqual({ offset: results[4]!.offset, epoch: ready.epoch });
  });

  it('multiplexes channels on one connection and shares one subscription per channel', async () => {
    const a = client();
    const s1 = a.subscribe('live:one');
    const s1bis = a.subscribe('live:one');
    const s2 = a.subscribe('live:two');
    expect(s1bis).toBe(s1);
    await Promise.all([s1.ready, s2.ready]);
    const one: unknown[] = [];
    const two: unknown[] = [];
    s1.on('message', (m) => one.push(m.data));
    s2.on('message', (m) => two.push(m.data));
    await server.publish('live:one', 'x');
    await server.publish('live:two', 'y');
    await waitFor(() => one.length === 1 && two.length === 1);
    expect(one).toEqual(['x']);
    expect(two).toEqual(['y']);

    s1.unsubscribe(); // one reference left
    expect(s1.state).toBe('subscribed');
    const subscriptions = async () => (await server.api('GET', '/api/stats')).body.subscriptions;
    expect(await subscriptions()).toBe(2);
    s1.unsubscribe(); // last one: unsubscribed on the server
    expect(s1.state).toBe('unsubscribed');
    let left = 2;
    await waitFor(() => { void subscriptions().then((n) => { left = n; }); return left === 1; }, 5000, 'the unsubscribe on the server');
    await sleep(100);
    await server.publish('live:one', 'after');
    await server.publish('live:two', 'z');
    await waitFor(() => two.length === 2);
    expect(one).toEqual(['x']);
  });

  it('relays client events to the other subscribers', async () => {
    const a = client({ user: 'a' });
    const b = client({ user: 'b' });
    const sa = a.subscribe('chat:events');
    const sb = b.subscribe('chat:events');
    await Promise.all([sa.ready, sb.ready]);
    const seen: unknown[] = [];
    sb.on('event', (e) => seen.push(e));
    await sa.sendEvent('reaction', { emoji: '+1' });
    await waitFor(() => seen.length === 1);
    expect(seen[0]).toMatchObject({ channel: 'chat:events', event: 'reaction', data: { emoji: '+1' }, user: 'a', client: a.clientId });
  });
});

describe('requests and errors', () => {
  it('rejects with the server error code', async () => {
    const c = client();
    await c.waitForConnection();
    const e1 = await c.publish('nope:x', 1).catch((e) => e);
    expect(e1).toBeInstanceOf(SwitchboardError);
    expect(e1).toMatchObject({ code: 'UNKNOWN_CHANNEL', retryable: false, request: 'publish', channel: 'nope:x' });
    const e2 = await c.publish('ro:x', 1).catch((e) => e);
    expect(e2).toMatchObject({ code: 'PERMISSION_DENIED', retryable: false });
    const e3 = await c.history('chat:x', { limit: 5000 }).catch((e) => e);
    expect(e3).toMatchObject({ code: 'INVALID_MESSAGE', retryable: false, request: 'history' });
    const e4 = await c.presence('ro:x').catch((e) => e);
    expect(e4).toMatchObject({ code: 'PERMISSION_DENIED' });
    // The connection is still fine.
    expect(c.state).toBe('connected');
    expect((await c.publish('chat:ok', 'fine')).offset).toBe(1);
  });

  it('fails a subscription the server refuses', async () => {
    const c = client();
    const sub = c.subscribe('nope:channel');
    const errors: SwitchboardError[] = [];
    sub.on('error', (e) => errors.push(e));
    await expect(sub.ready).rejects.toMatchObject({ code: 'UNKNOWN_CHANNEL' });
    expect(sub.state).toBe('failed');
    expect(errors.map((e) => e.code)).toEqual(['UNKNOWN_CHANNEL']);
    expect(c.getSubscription('nope:channel')).toBeUndefined();
  });

  it('rejects with TIMEOUT when the server does not answer', async () => {
    const c = client({ requestTimeout: 400, heartbeat: false });
    await c.waitForConnection();
    await server.pause();
    try {
      const err = await c.history('chat:t').catch((e) => e);
      expect(err).toBeInstanceOf(SwitchboardError);
      expect(err).toMatchObject({ code: 'TIMEOUT', retryable: true, request: 'history' });
    } finally {
      server.resume();
    }
    // The late reply is ignored; the next request works.
    await sleep(100);
    expect((await c.history('chat:t')).messages).toEqual([]);
  });
});

describe('history', () => {
  it('reads pages and iterates newest first', async () => {
    const c = client();
    for (let n = 1; n <= 25; n++) await c.publish('chat:hist', n);
    const page = await c.history<number>('chat:hist', { since: 20 });
    expect(page.messages.map((m) => m.data)).toEqual([21, 22, 23, 24, 25]);
    expect(page.offset).toBe(25);
    expect(page.firstOffset).toBe(1);

    const all: number[] = [];
    for await (const m of c.iterateHistory<number>('chat:hist', { pageSize: 10 })) all.push(m.data);
    expect(all).toEqual(Array.from({ length: 25 }, (_, i) => 25 - i));

    const some: number[] = [];
    for await (const m of c.iterateHistory<number>('chat:hist', { pageSize: 4, before: 10, max: 6 })) some.push(m.offset);
    expect(some).toEqual([9, 8, 7, 6, 5, 4]);
  });

  it('follows the server\'s cursor across pages cut by bytes', async () => {
    // 300 bytes hold one 100-character message (its data plus 64): every page holds one.
    const small = await TestServer.start(`
threads = 2
[limits]
max_history_response_bytes = 300
[namespaces.chat]
client_publish = true
history_size = 100
`);
    try {
      const c = new Switchboard(small.wsUrl);
      clients.push(c);
      for (let n = 1; n <= 6; n++) await c.publish('chat:bytes', `${n}`.padEnd(100, '.'));
      const first = await c.history<string>('chat:bytes', { limit: 100 });
      expect(first.messages.map((m) => m.offset)).toEqual([1]);
      expect(first.next).toBe(1);
      const all: number[] = [];
      for await (const m of c.iterateHistory<string>('chat:bytes', { pageSize: 100 })) all.push(m.offset);
      expect(all).toEqual([6, 5, 4, 3, 2, 1]);
      const last = await c.history<string>('chat:bytes', { since: 5 });
      expect(last.next).toBeUndefined();
    } finally {
      await small.stop();
    }
  });

  it('resumes a subscription from a saved position', async () => {
    const c = client();
    const r = await c.publish('chat:saved', 'a');
    await c.publish('chat:saved', 'b');
    await c.publish('chat:saved', 'c');
    const d = client();
    const sub = d.subscribe<string>('chat:saved', { since: { offset: r.offset, epoch: r.epoch } });
    const got: string[] = [];
    sub.on('message', (m) => got.push(m.data));
    const ready = await sub.ready;
    expect(ready.recovered).toBe(true);
    await waitFor(() => got.length === 2);
    expect(got).toEqual(['b', 'c']);
  });
});
