/**
 * Authentication against a real server with [auth] jwt_secret and anonymous = "never": tokens in
 * `connect` from getToken, AUTH_FAILED is final, refresh_required is answered, private channels
 * take a subscription token.
 */
import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Switchboard, SwitchboardError } from '../src/index.js';
import { TestServer, sleep, waitFor } from './server.js';

const SECRET = 'test-secret-0123456789abcdef-0123456789';

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

function sign(claims: Record<string, unknown>, secret = SECRET): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

const now = () => Math.floor(Date.now() / 1000);

let server: TestServer;
const clients: Switchboard[] = [];
function client(options: ConstructorParameters<typeof Switchboard>[1] = {}): Switchboard {
  const c = new Switchboard(server.wsUrl, { reconnect: { minDelay: 50, maxDelay: 250 }, ...options });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await TestServer.start(`
threads = 2
[auth]
jwt_secret = "${SECRET}"
anonymous = "never"

[namespaces.chat]
client_publish = true
history_size = 100
presence = true
join_leave = true

[namespaces.priv]
access = "private"
client_publish = true
`);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await server.stop();
});

describe('tokens', () => {
  it('connects with the token from getToken; the user comes from the token', async () => {
    let calls = 0;
    const c = client({
      user: 'mallory', // ignored: a verified connection is the token's user
      getToken: () => {
        calls += 1;
        return sign({ sub: 'alice', exp: now() + 3600, info: { name: 'Alice' } });
      },
    });
    await c.waitForConnection();
    expect(c.user).toBe('alice');
    expect(calls).toBe(1);
    const members = await c.subscribe('chat:auth').ready.then(() => c.presence('chat:auth'));
    expect(members).toEqual([{ client: c.clientId, user: 'alice', info: { name: 'Alice' } }]);
    expect((await c.publish('chat:auth', 'hi')).offset).toBe(1);
  });

  it('does not reconnect after AUTH_FAILED', async () => {
    const c = client({ getToken: () => sign({ sub: 'alice', exp: now() + 3600 }, 'another-secret-0123456789abcdef-xyz') });
    const errors: SwitchboardError[] = [];
    const connecting: number[] = [];
    c.on('error', (e) => errors.push(e));
    c.on('connecting', (e) => connecting.push(e.attempt));
    const p = c.publish('chat:auth', 'never sent').catch((e) => e);
    await waitFor(() => c.state === 'closed', 5000, 'closed');
    await sleep(500);
    expect(c.state).toBe('closed');
    expect(connecting).toEqual([]); // the first attempt was announced before the listener: none after it
    expect(errors.some((e) => e.code === 'AUTH_FAILED')).toBe(true);
    expect(await p).toMatchObject({ code: 'CLOSED' });
  });

  it('answers refresh_required with a new token from getToken', async () => {
    const tokens: number[] = [];
    const c = client({
      getToken: () => {
        // The first token expires in 31 s: the server asks for a refresh 30 s before.
        const exp = now() + (tokens.length === 0 ? 31 : 3600);
        tokens.push(exp);
        return sign({ sub: 'bob', exp });
      },
    });
    const errors: SwitchboardError[] = [];
    c.on('error', (e) => errors.push(e));
    await c.waitForConnection();
    await waitFor(() => tokens.length === 2, 5000, 'refresh');
    await sleep(300);
    expect(errors).toEqual([]);
    expect(c.state).toBe('connected');
    expect(await c.ping()).toBeGreaterThanOrEqual(0);
  });
});

describe('private namespace', () => {
  it('subscribes with a subscription token, and is refused without one', async () => {
    const c = client({ getToken: () => sign({ sub: 'carol', exp: now() + 3600 }) });
    const ok = c.subscribe('priv:room', { token: (channel) => sign({ sub: 'carol', channel, exp: now() + 600 }) });
    await ok.ready;
    const refused = c.subscribe('priv:other');
    await expect(refused.ready).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    const got: unknown[] = [];
    ok.on('message', (m) => got.push(m.data));
    await server.publish('priv:room', 'secret');
    await waitFor(() => got.length === 1);
    expect(got).toEqual(['secret']);
  });
});
