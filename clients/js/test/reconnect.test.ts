import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Switchboard, SwitchboardError, type DisconnectedEvent, type ResetEvent, type SubscribedEvent } from '../src/index.js';
import { TestServer, controlledWebSocket, sleep, waitFor } from './server.js';

let server: TestServer;
const clients: Switchboard[] = [];

function client(options: ConstructorParameters<typeof Switchboard>[1] = {}): Switchboard {
  const c = new Switchboard(server.wsUrl, { reconnect: { minDelay: 50, maxDelay: 250 }, ...options });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await TestServer.start();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  server.resume();
  if (!server.pid) await server.start();
});
afterAll(async () => {
  await server.stop();
});

describe('reconnection and recovery', () => {
  it('recovers, once and in order, what was published while the server was killed and restarted', async () => {
    const net = controlledWebSocket();
    const c = client({ WebSocket: net.WebSocket });
    const sub = c.subscribe<number>('chat:recover');
    const got: number[] = [];
    const offsets: number[] = [];
    const subscribed: SubscribedEvent[] = [];
    const resets: ResetEvent[] = [];
    sub.on('message', (m) => {
      got.push(m.data);
      offsets.push(m.offset);
    });
    sub.on('subscribed', (e) => subscribed.push(e));
    sub.on('reset', (e) => resets.push(e));
    await sub.ready;
    for (let n = 1; n <= 3; n++) await server.publish('chat:recover', n);
    await waitFor(() => got.length === 3);

    // The server dies; the client cannot reach it until the gate opens again.
    const disconnected: DisconnectedEvent[] = [];
    c.on('disconnected', (e) => disconnected.push(e));
    net.gate.open = false;
    await server.kill('SIGKILL');
    await waitFor(() => c.state !== 'connected');
    await server.start(); // same port, same data dir
    for (let n = 4; n <= 8; n++) await server.publish('chat:recover', n);
    await sleep(300); // a few failed attempts
    expect(c.state).not.toBe('connected');
    net.gate.open = true;
    await c.waitForConnection();
    await waitFor(() => got.length === 8, 5000, 'recovered messages');
    await server.publish('chat:recover', 9);
    await waitFor(() => got.length === 9);
    await sleep(200);

    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(offsets).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(disconnected[0]).toMatchObject({ code: 1006, willReconnect: true });
    expect(subscribed.map((s) => [s.resubscribed, s.recovered])).toEqual([
      [false, undefined],
      [true, true],
    ]);
    expect(resets).toEqual([]);
  });

  it('reconnects after a graceful shutdown (1001) and a plain restart', async () => {
    const c = client();
    const sub = c.subscribe<string>('chat:restart');
    const got: string[] = [];
    sub.on('message', (m) => got.push(m.data));
    await sub.ready;
    const codes: number[] = [];
    c.on('disconnected', (e) => codes.push(e.code));
    await server.kill('SIGTERM');
    await server.start();
    await c.waitForConnection();
    await waitFor(() => sub.state === 'subscribed');
    await server.publish('chat:restart', 'after');
    await waitFor(() => got.length === 1);
    expect(codes[0]).toBe(1001);
    expect(got).toEqual(['after']);
  });

  it('emits reset when the server lost the history (new epoch)', async () => {
    const net = controlledWebSocket();
    const c = client({ WebSocket: net.WebSocket });
    const sub = c.subscribe<string>('chat:wiped');
    const got: string[] = [];
    const resets: ResetEvent[] = [];
    sub.on('message', (m) => got.push(m.data));
    sub.on('reset', (e) => resets.push(e));
    const first = await sub.ready;
    await server.publish('chat:wiped', 'old-1');
    await server.publish('chat:wiped', 'old-2');
    await waitFor(() => got.length === 2);

    net.gate.open = false;
    await server.kill('SIGKILL');
    server.wipeHistory();
    await server.start();
    await server.publish('chat:wiped', 'lost'); // offset 1 of a new epoch
    net.gate.open = true;
    await waitFor(() => resets.length === 1, 5000, 'reset');
    expect(resets[0]!.previous).toEqual({ offset: 2, epoch: first.epoch });
    expect(resets[0]!.epoch).not.toBe(first.epoch);
    expect(resets[0]!.offset).toBe(1);
    expect(sub.position).toEqual({ offset: 1, epoch: resets[0]!.epoch });

    // The app reloads from history, then live messages go on.
    const page = await sub.history();
    expect(page.messages.map((m) => m.data)).toEqual(['lost']);
    await server.publish('chat:wiped', 'new');
    await waitFor(() => got.length === 3);
    expect(got).toEqual(['old-1', 'old-2', 'new']);
  });

  it('rejects requests in flight with DISCONNECTED when the connection drops', async () => {
    const net = controlledWebSocket();
    const c = client({ WebSocket: net.WebSocket, heartbeat: false });
    await c.waitForConnection();
    await server.pause();
    const p = c.history('chat:x').catch((e) => e);
    await sleep(50);
    net.gate.open = false;
    net.cut();
    const err = await p;
    server.resume();
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err).toMatchObject({ code: 'DISCONNECTED', retryable: true });
    net.gate.open = true;
    await c.waitForConnection();
  });

  it('drops a dead connection with the heartbeat and reconnects', async () => {
    const c = client({ heartbeat: { interval: 300, timeout: 400 }, connectTimeout: 500 });
    await c.waitForConnection();
    const first = c.clientId;
    const disconnected: DisconnectedEvent[] = [];
    c.on('disconnected', (e) => disconnected.push(e));
    await server.pause(); // sockets stay open, nothing answers
    await waitFor(() => disconnected.length > 0, 5000, 'heartbeat timeout');
    expect(disconnected[0]!.reason).toBe('heartbeat timeout');
    server.resume();
    await c.waitForConnection();
    expect(c.clientId).not.toBe(first);
  });
});

describe('offline queue', () => {
  it('keeps publishes made while disconnected and sends them in order after reconnecting', async () => {
    const net = controlledWebSocket();
    const watcher = client();
    const wsub = watcher.subscribe<number>('chat:queue');
    const seen: number[] = [];
    wsub.on('message', (m) => seen.push(m.data));
    await wsub.ready;

    const c = client({ WebSocket: net.WebSocket });
    await c.waitForConnection();
    net.gate.open = false;
    net.cut();
    await waitFor(() => c.state === 'disconnected');
    const results = [1, 2, 3, 4, 5].map((n) => c.publish('chat:queue', n));
    expect(c.queueSize).toBe(5);
    await sleep(200);
    expect(seen).toEqual([]);
    net.gate.open = true;
    const done = await Promise.all(results);
    expect(done.map((r) => r.offset)).toEqual([1, 2, 3, 4, 5]);
    await waitFor(() => seen.length === 5);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(c.queueSize).toBe(0);
  });

  it('rejects a publish when the queue is full, never dropping silently', async () => {
    const net = controlledWebSocket();
    const c = client({ WebSocket: net.WebSocket, offlineQueueSize: 3 });
    await c.waitForConnection();
    net.gate.open = false;
    net.cut();
    await waitFor(() => c.state === 'disconnected');
    const ok = [1, 2, 3].map((n) => c.publish('chat:overflow', n));
    const err = await c.publish('chat:overflow', 4).catch((e) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err).toMatchObject({ code: 'OFFLINE_QUEUE_FULL', retryable: true, channel: 'chat:overflow' });
    net.gate.open = true;
    expect((await Promise.all(ok)).map((r) => r.offset)).toEqual([1, 2, 3]);
    const page = await c.history<number>('chat:overflow');
    expect(page.messages.map((m) => m.data)).toEqual([1, 2, 3]);
  });

  it('rejects queued publishes with CLOSED on close()', async () => {
    const c = client({ autoConnect: false });
    const p = c.publish('chat:closed', 1).catch((e) => e);
    c.close();
    expect(await p).toMatchObject({ code: 'CLOSED', retryable: false });
    expect(await c.publish('chat:closed', 2).catch((e) => e)).toMatchObject({ code: 'CLOSED' });
  });
});

describe('final close', () => {
  it('does not reconnect after close code 4000 (POST /api/disconnect)', async () => {
    const c = client();
    await c.waitForConnection();
    const closed: { code?: number; reason: string }[] = [];
    const connecting: number[] = [];
    c.on('closed', (e) => closed.push(e));
    c.on('connecting', (e) => connecting.push(e.attempt));
    expect(await server.disconnect(c.clientId!)).toBe(1);
    await waitFor(() => c.state === 'closed', 5000, 'closed');
    await sleep(1000);
    expect(c.state).toBe('closed');
    expect(connecting).toEqual([]);
    expect(closed).toEqual([{ code: 4000, reason: 'disconnected by the server' }]);
    const stats = await server.api('GET', '/api/stats');
    expect(stats.body.connections).toBe(0);
    expect(await c.publish('chat:x', 1).catch((e) => e)).toMatchObject({ code: 'CLOSED' });
  });

  it('backs off with full jitter under the cap while the server is down', async () => {
    const delays: number[] = [];
    const c = client({ reconnect: { minDelay: 20, maxDelay: 200, factor: 2 }, connectTimeout: 1000 });
    await c.waitForConnection();
    c.on('disconnected', (e) => {
      if (e.willReconnect) delays.push(e.delay!);
    });
    await server.kill('SIGKILL');
    await waitFor(() => delays.length >= 6, 10000, 'attempts');
    c.close();
    for (const [i, d] of delays.entries()) {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(200, 20 * 2 ** i));
    }
  });
});
