/**
 * Behaviour the real server cannot trigger on demand (holes in offsets) or does not have yet
 * (token refresh, AUTH_FAILED), against a scripted in-memory WebSocket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Switchboard, type WebSocketConstructor, type WebSocketLike } from '../src/index.js';
import { waitFor } from './server.js';

class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, any>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
      this.push({ type: 'connected', client: `c${FakeSocket.all.length}`, version: 1, ping_interval: 25 });
    }, 0);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.readyState = 3;
  }
  push(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  last(type: string): Record<string, any> | undefined {
    return [...this.sent].reverse().find((f) => f.type === type);
  }
}

const clients: Switchboard[] = [];
function client(options: ConstructorParameters<typeof Switchboard>[1] = {}): Switchboard {
  const c = new Switchboard('ws://fake/ws', {
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    reconnect: { minDelay: 10, maxDelay: 20 },
    heartbeat: false,
    ...options,
  });
  clients.push(c);
  return c;
}
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  FakeSocket.all = [];
});

describe('offset holes', () => {
  it('fetches a hole from history before delivering later messages', async () => {
    const c = client();
    const sub = c.subscribe<string>('chat:gap');
    const got: [number, string][] = [];
    sub.on('message', (m) => got.push([m.offset, m.data]));
    await waitFor(() => FakeSocket.all[0]?.last('subscribe') !== undefined);
    const ws = FakeSocket.all[0]!;
    ws.push({ type: 'subscribed', id: ws.last('subscribe')!.id, channel: 'chat:gap', offset: 0, epoch: 'e1' });
    ws.push({ type: 'message', channel: 'chat:gap', data: 'one', offset: 1, ts: 1 });
    ws.push({ type: 'message', channel: 'chat:gap', data: 'four', offset: 4, ts: 4 });
    ws.push({ type: 'message', channel: 'chat:gap', data: 'five', offset: 5, ts: 5 });
    const h = ws.last('history')!;
    expect(h).toMatchObject({ channel: 'chat:gap', since: 1, before: 4, limit: 2 });
    expect(got).toEqual([[1, 'one']]);
    ws.push({
      type: 'history', id: h.id, channel: 'chat:gap', offset: 5, epoch: 'e1', first_offset: 1,
      messages: [{ offset: 2, ts: 2, data: 'two' }, { offset: 3, ts: 3, data: 'three' }],
    });
    await waitFor(() => got.length === 5);
    expect(got.map((g) => g[0])).toEqual([1, 2, 3, 4, 5]);
    // A duplicate (e.g. a recovery overlap) is dropped.
    ws.push({ type: 'message', channel: 'chat:gap', data: 'five again', offset: 5, ts: 5 });
    expect(got.length).toBe(5);
  });

  it('pages through a hole when the server cuts the history page short', async () => {
    const c = client();
    const sub = c.subscribe<string>('chat:gap2');
    const got: number[] = [];
    sub.on('message', (m) => got.push(m.offset));
    await waitFor(() => FakeSocket.all[0]?.last('subscribe') !== undefined);
    const ws = FakeSocket.all[0]!;
    ws.push({ type: 'subscribed', id: ws.last('subscribe')!.id, channel: 'chat:gap2', offset: 1, epoch: 'e' });
    ws.push({ type: 'message', channel: 'chat:gap2', data: 'x', offset: 5, ts: 5 });
    const h1 = ws.last('history')!;
    expect(h1).toMatchObject({ since: 1, before: 5, limit: 3 });
    ws.push({ type: 'history', id: h1.id, channel: 'chat:gap2', offset: 5, epoch: 'e', first_offset: 1, messages: [{ offset: 2, ts: 2, data: 'b' }] });
    await waitFor(() => ws.last('history')!.id !== h1.id);
    const h2 = ws.last('history')!;
    expect(h2).toMatchObject({ since: 2, before: 5, limit: 2 });
    ws.push({
      type: 'history', id: h2.id, channel: 'chat:gap2', offset: 5, epoch: 'e', first_offset: 1,
      messages: [{ offset: 3, ts: 3, data: 'c' }, { offset: 4, ts: 4, data: 'd' }],
    });
    await waitFor(() => got.length === 4);
    expect(got).toEqual([2, 3, 4, 5]);
  });

  it('reports a hole history cannot fill and goes on', async () => {
    const c = client();
    const sub = c.subscribe<string>('live:gap');
    const got: number[] = [];
    const gaps: unknown[] = [];
    sub.on('message', (m) => got.push(m.offset));
    sub.on('gap', (g) => gaps.push(g));
    await waitFor(() => FakeSocket.all[0]?.last('subscribe') !== undefined);
    const ws = FakeSocket.all[0]!;
    ws.push({ type: 'subscribed', id: ws.last('subscribe')!.id, channel: 'live:gap', offset: 10, epoch: 'e' });
    ws.push({ type: 'message', channel: 'live:gap', data: 'x', offset: 13, ts: 1 });
    const h = ws.last('history')!;
    ws.push({ type: 'history', id: h.id, channel: 'live:gap', offset: 13, epoch: 'e', first_offset: 0, messages: [] });
    await waitFor(() => got.length === 1);
    expect(got).toEqual([13]);
    expect(gaps).toEqual([{ channel: 'live:gap', from: 11, to: 12 }]);
  });
});

describe('frame order', () => {
  it('applies a subscribed reply before the frames that follow it in the same tick', async () => {
    const c = client();
    const sub = c.subscribe<string>('chat:order', { since: { offset: 100, epoch: 'old' } });
    const got: [number, string][] = [];
    const resets: unknown[] = [];
    sub.on('message', (m) => got.push([m.offset, m.epoch]));
    sub.on('reset', (e) => resets.push(e));
    await waitFor(() => FakeSocket.all[0]?.last('subscribe') !== undefined);
    const ws = FakeSocket.all[0]!;
    expect(ws.last('subscribe')!.since).toEqual({ offset: 100, epoch: 'old' });
    // All pushed synchronously, as `ws` does for frames read in one chunk.
    ws.push({ type: 'subscribed', id: ws.last('subscribe')!.id, channel: 'chat:order', offset: 1, epoch: 'new', recovered: false });
    ws.push({ type: 'message', channel: 'chat:order', data: 'x', offset: 2, ts: 1 });
    expect(resets).toEqual([{ channel: 'chat:order', previous: { offset: 100, epoch: 'old' }, offset: 1, epoch: 'new' }]);
    expect(got).toEqual([[2, 'new']]);
  });
});

describe('reset from the server', () => {
  it('emits reset and goes on after the position the server gave', async () => {
    const c = client();
    const sub = c.subscribe<string>('chat:cut');
    const got: number[] = [];
    const resets: unknown[] = [];
    sub.on('message', (m) => got.push(m.offset));
    sub.on('reset', (e) => resets.push(e));
    await waitFor(() => FakeSocket.all[0]?.last('subscribe') !== undefined);
    const ws = FakeSocket.all[0]!;
    ws.push({ type: 'subscribed', id: ws.last('subscribe')!.id, channel: 'chat:cut', offset: 4, epoch: 'e' });
    ws.push({ type: 'message', channel: 'chat:cut', data: 'a', offset: 5, ts: 1 });
    ws.push({ type: 'reset', channel: 'chat:cut', offset: 40, epoch: 'e' });
    ws.push({ type: 'message', channel: 'chat:cut', data: 'old', offset: 39, ts: 1 });
    ws.push({ type: 'message', channel: 'chat:cut', data: 'b', offset: 41, ts: 1 });
    expect(resets).toEqual([{ channel: 'chat:cut', previous: { offset: 5, epoch: 'e' }, offset: 40, epoch: 'e' }]);
    expect(got).toEqual([5, 41]);
    expect(sub.position).toEqual({ offset: 41, epoch: 'e' });
  });
});

describe('authentication (forward-compatible)', () => {
  it('sends the token from getToken in connect, and answers refresh_required', async () => {
    let n = 0;
    const c = client({ getToken: async () => `tok-${++n}`, user: 'u' });
    await waitFor(() => FakeSocket.all[0]?.last('connect') !== undefined);
    const ws = FakeSocket.all[0]!;
    expect(ws.last('connect')).toMatchObject({ token: 'tok-1', user: 'u' });
    ws.push({ type: 'connected', id: ws.last('connect')!.id, client: 'c1', user: 'u', version: 1, ping_interval: 25 });
    await c.waitForConnection();
    ws.push({ type: 'refresh_required' });
    await waitFor(() => ws.last('refresh') !== undefined);
    expect(ws.last('refresh')).toMatchObject({ type: 'refresh', token: 'tok-2' });
  });

  it('does not reconnect after AUTH_FAILED', async () => {
    const c = client({ token: 'bad' });
    const closed: unknown[] = [];
    c.on('closed', (e) => closed.push(e));
    await waitFor(() => FakeSocket.all[0]?.last('connect') !== undefined);
    const ws = FakeSocket.all[0]!;
    ws.push({ type: 'error', id: ws.last('connect')!.id, code: 'AUTH_FAILED', message: 'bad token', retryable: false });
    await waitFor(() => c.state === 'closed');
    await new Promise((r) => setTimeout(r, 100));
    expect(FakeSocket.all.length).toBe(1);
    expect(closed).toHaveLength(1);
  });

  it('does not reconnect after close code 4003, reconnects after 4004 with a fresh token', async () => {
    let n = 0;
    const c = client({ getToken: () => `tok-${++n}` });
    const answer = (i: number) => {
      const ws = FakeSocket.all[i]!;
      ws.push({ type: 'connected', id: ws.last('connect')!.id, client: `c${i}`, user: 'u', version: 1, ping_interval: 25 });
    };
    await waitFor(() => FakeSocket.all[0]?.last('connect') !== undefined);
    answer(0);
    await c.waitForConnection();
    FakeSocket.all[0]!.serverClose(4004, 'token expired');
    await waitFor(() => FakeSocket.all[1]?.last('connect') !== undefined);
    expect(FakeSocket.all[1]!.last('connect')!.token).toBe('tok-2');
    answer(1);
    await c.waitForConnection();
    FakeSocket.all[1]!.serverClose(4003, 'authentication failed');
    expect(c.state).toBe('closed');
    await new Promise((r) => setTimeout(r, 100));
    expect(FakeSocket.all.length).toBe(2);
  });

  it('reconnects after 4001 and 4002 but not after 4000', async () => {
    const c = client();
    await c.waitForConnection();
    FakeSocket.all[0]!.serverClose(4001, 'slow consumer');
    await waitFor(() => FakeSocket.all.length === 2);
    await c.waitForConnection();
    FakeSocket.all[1]!.serverClose(4002, 'ping timeout');
    await waitFor(() => FakeSocket.all.length === 3);
    await c.waitForConnection();
    FakeSocket.all[2]!.serverClose(4000, 'disconnected by the server');
    expect(c.state).toBe('closed');
    await new Promise((r) => setTimeout(r, 100));
    expect(FakeSocket.all.length).toBe(3);
  });
});
