// rpc(): request/response with the app's backend through the server's rpc proxy
// (docs/backend.md#rpc), against the real server and a backend made here with node:http.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Switchboard, SwitchboardError } from '../src/index.js';
import { TestServer } from './server.js';

let server: TestServer;
let backend: http.Server;
const seen: Record<string, unknown>[] = [];

beforeAll(async () => {
  backend = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw) as { method: string; data: { a: number; b: number } };
      seen.push(body);
      const answer =
        body.method === 'add'
          ? { result: { data: { sum: body.data.a + body.data.b } } }
          : { error: { code: 'NO_SUCH_METHOD', message: `unknown method ${body.method}` } };
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const port = (backend.address() as AddressInfo).port;
  server = await TestServer.start(`
threads = 1
[proxy]
rpc_url = "http://127.0.0.1:${port}/rpc"
`);
});
afterAll(async () => {
  await server.stop();
  await new Promise((r) => backend.close(r));
});

describe('rpc', () => {
  it('resolves with the backend answer and rejects with its error code', async () => {
    const c = new Switchboard(server.wsUrl);
    try {
      await expect(c.rpc<{ sum: number }>('add', { a: 2, b: 40 })).resolves.toEqual({ sum: 42 });
      expect(seen.at(-1)).toMatchObject({ method: 'add', data: { a: 2, b: 40 }, client: c.clientId });
      const err = await c.rpc('nope').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SwitchboardError);
      expect((err as SwitchboardError).code).toBe('NO_SUCH_METHOD');
      expect((err as SwitchboardError).retryable).toBe(false);
    } finally {
      c.close();
    }
  });
});
