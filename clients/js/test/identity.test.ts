import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloseCodes, Switchboard, type ChannelEvent, type Message, type TypingEvent } from '../src/index.js';
import { DEFAULT_CONFIG, TestServer, sleep, waitFor } from './server.js';

// `react`: reactions and typing without the right to publish (client_events).
const CONFIG = `${DEFAULT_CONFIG}
[namespaces.react]
client_events = true
`;

let server: TestServer;
const clients: Switchboard[] = [];

function client(url: string, options: ConstructorParameters<typeof Switchboard>[1] = {}): Switchboard {
  const c = new Switchboard(url, { reconnect: { minDelay: 50, maxDelay: 300 }, ...options });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await TestServer.start(CONFIG);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await server.stop();
});

describe('publisher identity (from)', () => {
  it('stamps the publishing connection on live and stored messages', async () => {
    const ann = client(server.wsUrl, { user: 'ann', info: { name: 'Ann' } });
    const bob = client(server.wsUrl, { user: 'bob' });
    const got: Message[] = [];
    bob.subscribe('chat:from').on('message', (m) => got.push(m));
    await bob.getSubscription('chat:from')!.ready;
    await ann.publish('chat:from', { text: 'hi' });
    await waitFor(() => got.length === 1);
    const expected = { user: 'ann', client: ann.clientId, info: { name: 'Ann' }, verified: false };
    expect(got[0].from).toEqual(expected);
    const page = await bob.history('chat:from');
    expect(page.messages[0].from).toEqual(expected);
  });

  it('passes on the from a backend gives, and none without', async () => {
    const bob = client(server.wsUrl, { user: 'bob' });
    const got: Message[] = [];
    const sub = bob.subscribe('chat:backend');
    sub.on('message', (m) => got.push(m));
    await sub.ready;
    const r = await server.api('POST', '/api/publish', {
      channel: 'chat:backend',
      data: 'from the agent',
      from: { user: 'agent-7', info: { kind: 'ai' } },
    });
    expect(r.status).toBe(200);
    await server.publish('chat:backend', 'system');
    await waitFor(() => got.length === 2);
    expect(got[0].from).toEqual({ user: 'agent-7', client: '', info: { kind: 'ai' } });
    expect(got[1].from).toBeUndefined();
  });

  it('lets client_events namespaces carry typing and events, with from, but not publishes', async () => {
    const ann = client(server.wsUrl, { user: 'ann' });
    const bob = client(server.wsUrl, { user: 'bob' });
    const events: ChannelEvent[] = [];
    const typing: TypingEvent[] = [];
    const sub = bob.subscribe('react:1');
    sub.on('event', (e) => events.push(e));
    sub.on('typing', (e) => typing.push(e));
    await sub.ready;
    await ann.subscribe('react:1').ready;
    await ann.sendEvent('react:1', 'clap', { n: 1 });
    const handle = ann.typing('react:1');
    handle.start();
    await waitFor(() => events.length === 1 && typing.length === 1);
    expect(events[0].from).toEqual({ user: 'ann', client: ann.clientId, verified: false });
    expect(typing[0].from?.user).toBe('ann');
    handle.dispose();
    await expect(ann.publish('react:1', 'no')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });

    const r = await server.api('POST', '/api/event', { channel: 'react:1', event: 'reload', from: { user: 'backend' } });
    expect(r.status).toBe(200);
    await waitFor(() => events.length === 2);
    expect(events[1]).toMatchObject({ event: 'reload', client: '', from: { user: 'backend', client: '' } });
  });
});

describe('idle timeout', () => {
  it('is closed with 4008 and does not reconnect by itself', async () => {
    const idle = await TestServer.start(DEFAULT_CONFIG.replace('[limits]\n', '[limits]\nidle_timeout = 1\n'));
    try {
      const c = client(idle.wsUrl, { user: 'sleepy' });
      const closed = new Promise<{ code?: number }>((r) => c.once('closed', r));
      await waitFor(() => c.state === 'connected');
      expect((await closed).code).toBe(CloseCodes.IDLE_TIMEOUT);
      await sleep(300);
      expect(c.state).toBe('closed');
    } finally {
      await idle.stop();
    }
  });
});
