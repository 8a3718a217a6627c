import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Switchboard, type Member, type StreamState, type TypingEvent } from '../src/index.js';
import { TestServer, controlledWebSocket, sleep, waitFor } from './server.js';

let server: TestServer;
const clients: Switchboard[] = [];

function client(options: ConstructorParameters<typeof Switchboard>[1] = {}): Switchboard {
  const c = new Switchboard(server.wsUrl, { reconnect: { minDelay: 50, maxDelay: 250 }, ...options });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await TestServer.start(); // typing_timeout = 2 s
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await server.stop();
});

describe('typing', () => {
  it('renews the indicator while started, so it does not expire; stop() ends it', async () => {
    const a = client({ user: 'alice' });
    const b = client({ user: 'bob' });
    const watch = b.typing('chat:typing');
    const events: TypingEvent[] = [];
    b.getSubscription('chat:typing')!.on('typing', (e) => events.push(e));
    await b.getSubscription('chat:typing')!.ready;

    const typing = a.typing('chat:typing', { renewInterval: 700 });
    await a.getSubscription('chat:typing')!.ready;
    typing.start();
    await waitFor(() => watch.typers.length === 1, 3000, 'typing start');
    expect(watch.typers).toEqual([{ client: a.clientId, user: 'alice' }]);
    await sleep(3500); // well past the server's 2 s typing_timeout
    expect(events.map((e) => e.typing)).toEqual([true]);
    expect(watch.typers.length).toBe(1);
    typing.stop();
    await waitFor(() => watch.typers.length === 0, 3000, 'typing stop');
    expect(events.map((e) => e.typing)).toEqual([true, false]);
    typing.dispose();
    watch.dispose();
  });

  it('expires on the server when not renewed', async () => {
    const a = client({ user: 'alice' });
    const b = client({ user: 'bob' });
    const sa = a.subscribe('chat:expire');
    const sb = b.subscribe('chat:expire');
    await Promise.all([sa.ready, sb.ready]);
    const events: { typing: boolean; at: number }[] = [];
    sb.on('typing', (e) => events.push({ typing: e.typing, at: Date.now() }));
    await a.request({ type: 'typing', channel: 'chat:expire', typing: true }); // once, no renewal
    await waitFor(() => events.length === 2, 6000, 'expiry');
    expect(events.map((e) => e.typing)).toEqual([true, false]);
    const after = events[1]!.at - events[0]!.at;
    expect(after).toBeGreaterThanOrEqual(800);
    expect(after).toBeLessThan(4500);
  });

  it('touch() stops by itself after the idle timeout', async () => {
    const a = client({ user: 'alice' });
    const b = client({ user: 'bob' });
    const watch = b.typing('chat:touch');
    const typing = a.typing('chat:touch', { idleTimeout: 300 });
    await Promise.all([a.getSubscription('chat:touch')!.ready, b.getSubscription('chat:touch')!.ready]);
    typing.touch();
    await waitFor(() => watch.typers.length === 1);
    typing.touch();
    expect(typing.active).toBe(true);
    await waitFor(() => !typing.active, 2000);
    await waitFor(() => watch.typers.length === 0, 2000);
  });
});

describe('presence', () => {
  it('keeps a live member list from presence + join/leave', async () => {
    const a = client({ user: 'alice', info: { name: 'Alice' } });
    const tracker = a.presenceTracker('chat:presence');
    const changes: Member[][] = [];
    tracker.on('change', (m) => changes.push(m));
    await waitFor(() => tracker.synced, 3000, 'synced');
    expect(tracker.members).toEqual([{ client: a.clientId, user: 'alice', info: { name: 'Alice' } }]);

    const b = client({ user: 'bob' });
    const joined: string[] = [];
    tracker.on('join', (e) => joined.push(e.user));
    await b.subscribe('chat:presence').ready;
    await waitFor(() => tracker.members.length === 2, 3000, 'join');
    expect(joined).toEqual(['bob']);
    expect(tracker.users.sort()).toEqual(['alice', 'bob']);
    const stats = await a.presenceStats('chat:presence');
    expect(stats).toEqual({ channel: 'chat:presence', clients: 2, users: 2 });

    const left: string[] = [];
    tracker.on('leave', (e) => left.push(e.user));
    b.close();
    await waitFor(() => tracker.members.length === 1, 3000, 'leave');
    expect(left).toEqual(['bob']);
    expect(tracker.users).toEqual(['alice']);
    tracker.dispose();
  });

  it('reloads the list after a reconnect', async () => {
    const net = controlledWebSocket();
    const a = client({ user: 'alice', WebSocket: net.WebSocket });
    const tracker = a.presenceTracker('chat:presence2');
    await waitFor(() => tracker.synced);
    const b = client({ user: 'bob' });
    net.gate.open = false;
    net.cut();
    await waitFor(() => !tracker.synced);
    await b.subscribe('chat:presence2').ready; // joined while `a` was away: no join event for it
    net.gate.open = true;
    await waitFor(() => tracker.synced && tracker.members.length === 2, 5000, 'resynced');
    expect(tracker.users.sort()).toEqual(['alice', 'bob']);
    // Only the current connection of alice is listed.
    expect(tracker.members.filter((m) => m.user === 'alice').map((m) => m.client)).toEqual([a.clientId]);
  });
});

describe('streams', () => {
  it('assembles stream_start/delta/end into text', async () => {
    const a = client();
    const deltas: string[] = [];
    const ended: StreamState[] = [];
    const started: StreamState[] = [];
    const tracker = a.stream('chat:ai', {
      onStart: (s) => started.push(s),
      onDelta: (d) => deltas.push(d),
      onEnd: (s) => ended.push(s),
    });
    const results: unknown[] = [];
    a.getSubscription('chat:ai')!.on('message', (m) => results.push(m.data));
    await a.getSubscription('chat:ai')!.ready;

    const id = await server.startStream('chat:ai', { model: 'test' });
    await waitFor(() => started.length === 1);
    expect(started[0]).toMatchObject({ id, meta: { model: 'test' }, text: '', done: false });
    expect(tracker.current?.id).toBe(id);
    for (const d of ['Bon', 'jour', ' le ', 'monde']) await server.append(id, d);
    await waitFor(() => deltas.length === 4);
    expect(tracker.get(id)!.text).toBe('Bonjour le monde');
    await server.endStream(id);
    await waitFor(() => ended.length === 1);
    expect(ended[0]).toMatchObject({ id, text: 'Bonjour le monde', done: true, reason: 'done', seq: 4 });
    expect(deltas).toEqual(['Bon', 'jour', ' le ', 'monde']);
    expect(tracker.current).toBeUndefined();
    // The finished text is also an ordinary message of the channel.
    await waitFor(() => results.length === 1);
    expect(results[0]).toMatchObject({ stream: id, text: 'Bonjour le monde', reason: 'done', meta: { model: 'test' } });
    tracker.dispose();
  });

  it('cancel() stops the running stream on the server', async () => {
    const a = client();
    const tracker = a.stream('chat:cancel');
    await a.getSubscription('chat:cancel')!.ready;
    const ends: StreamState[] = [];
    tracker.on('end', (s) => ends.push(s));
    const id = await server.startStream('chat:cancel');
    await server.append(id, 'partial ');
    await waitFor(() => tracker.current?.text === 'partial ');
    await tracker.cancel();
    await waitFor(() => ends.length === 1);
    expect(ends[0]).toMatchObject({ id, reason: 'cancelled', text: 'partial ', done: true });
    const r = await server.append(id, 'more');
    expect(r.status).toBe(404);
    await expect(a.cancelStream(id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('resumes a stream across a reconnect without repeating text', async () => {
    const net = controlledWebSocket();
    const a = client({ WebSocket: net.WebSocket });
    const deltas: string[] = [];
    const tracker = a.stream('chat:resume', { onDelta: (d) => deltas.push(d) });
    await a.getSubscription('chat:resume')!.ready;
    const id = await server.startStream('chat:resume');
    await server.append(id, 'Hello ');
    await waitFor(() => deltas.length === 1);
    net.gate.open = false;
    net.cut();
    await waitFor(() => a.state === 'disconnected');
    await server.append(id, 'wor');
    await server.append(id, 'ld');
    net.gate.open = true;
    await waitFor(() => deltas.length === 2, 5000, 'resync delta');
    await server.append(id, '!');
    await server.endStream(id);
    await waitFor(() => tracker.get(id)?.done === true);
    expect(deltas).toEqual(['Hello ', 'world', '!']);
    expect(tracker.get(id)).toMatchObject({ text: 'Hello world!', reason: 'done' });
  });

  it('finishes a stream that ended while disconnected, from the recovered result message', async () => {
    const net = controlledWebSocket();
    const a = client({ WebSocket: net.WebSocket });
    const ends: StreamState[] = [];
    const tracker = a.stream('chat:missed', { onEnd: (s) => ends.push(s) });
    await a.getSubscription('chat:missed')!.ready;
    const id = await server.startStream('chat:missed');
    await server.append(id, 'abc');
    await waitFor(() => tracker.current?.text === 'abc');
    net.gate.open = false;
    net.cut();
    await waitFor(() => a.state === 'disconnected');
    await server.append(id, 'def');
    await server.endStream(id);
    net.gate.open = true;
    await waitFor(() => ends.length === 1, 5000, 'end');
    expect(ends[0]).toMatchObject({ id, text: 'abcdef', reason: 'done' });
  });
});
