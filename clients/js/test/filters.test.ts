import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Switchboard, SwitchboardError, type Message } from '../src/index.js';
import { TestServer, waitFor } from './server.js';

let server: TestServer;
const clients: Switchboard[] = [];

function client(url: string): Switchboard {
  const c = new Switchboard(url, { reconnect: { minDelay: 50, maxDelay: 300 } });
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

describe('tags and filters', () => {
  it('delivers only the matches, with their tags, and reports no gap for the holes', async () => {
    const pub = client(server.wsUrl);
    const sub = client(server.wsUrl);
    const got: Message[] = [];
    let gaps = 0;
    const s = sub.subscribe('chat:filters', { filter: { or: [{ eq: ['circle', '12'] }, { not: { exists: 'circle' } }] } });
    s.on('message', (m) => got.push(m));
    s.on('gap', () => gaps++);
    await s.ready;
    await pub.publish('chat:filters', 1, { tags: { circle: '12', project: '7' } });
    await pub.publish('chat:filters', 2, { tags: { circle: '13' } });
    await pub.publish('chat:filters', 3);
    await waitFor(() => got.length === 2);
    expect(got.map((m) => m.data)).toEqual([1, 3]);
    expect(got[0].tags).toEqual({ circle: '12', project: '7' });
    expect(got[1].tags).toBeUndefined();
    expect(gaps).toBe(0);
    const page = await pub.history('chat:filters', { filter: { eq: ['circle', '13'] } });
    expect(page.messages.map((m) => m.data)).toEqual([2]);
    expect(page.messages[0].tags).toEqual({ circle: '13' });
  });

  it('refuses a malformed filter with INVALID_FILTER', async () => {
    const c = client(server.wsUrl);
    const s = c.subscribe('chat:bad-filter', { filter: { like: ['a', 'b'] } as never });
    const error = await s.ready.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SwitchboardError);
    expect((error as SwitchboardError).code).toBe('INVALID_FILTER');
  });
});
