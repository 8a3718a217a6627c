/**
 * Test harness: runs a real `switchboard serve` on a free loopback port with its own data dir and
 * config, and talks to its HTTP API. Binary: $SWITCHBOARD_BIN, else <repo>/build/switchboard.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { WebSocketConstructor, WebSocketLike } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
export const SERVER_BIN = resolve(process.env.SWITCHBOARD_BIN ?? join(here, '..', '..', '..', 'build', 'switchboard'));

export const DEFAULT_CONFIG = `
threads = 2
log_level = "info"

[limits]
typing_timeout = 2

[namespaces.chat]
client_publish = true
history_size = 1000
presence = true
join_leave = true

[namespaces.live]
client_publish = true
presence = true
join_leave = true

[namespaces.ro]
history_size = 100
`;

export class TestServer {
  readonly dir: string;
  readonly dataDir: string;
  readonly configPath: string;
  port = 0;
  private proc: ChildProcess | null = null;
  private log = '';

  private constructor(config: string) {
    if (!existsSync(SERVER_BIN))
      throw new Error(`server binary not found at ${SERVER_BIN}: build it, or set SWITCHBOARD_BIN`);
    this.dir = mkdtempSync(join(tmpdir(), 'sb-js-test-'));
    this.dataDir = join(this.dir, 'data');
    this.configPath = join(this.dir, 'switchboard.toml');
    writeFileSync(this.configPath, config);
  }

  static async start(config: string = DEFAULT_CONFIG): Promise<TestServer> {
    const s = new TestServer(config);
    await s.start();
    return s;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts the process (on the same port as before, after a restart). */
  async start(): Promise<void> {
    if (this.proc) throw new Error('already running');
    for (let tries = 0; ; tries++) {
      try {
        await this.spawnOnce();
        return;
      } catch (err) {
        // The old port may linger briefly after a kill: try again.
        if (tries >= 20 || this.port === 0) throw err;
        await sleep(250);
      }
    }
  }

  private spawnOnce(): Promise<void> {
    this.log = '';
    const args = ['serve', '--listen', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir, '--config', this.configPath];
    const proc = spawn(SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    return new Promise((resolveStart, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`server did not start in time:\n${this.log}`));
      }, 10000);
      const onData = (chunk: Buffer) => {
        this.log += chunk.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(this.log);
        if (m) {
          clearTimeout(timer);
          this.port = Number(m[1]);
          resolveStart();
        }
      };
      proc.stderr!.on('data', onData);
      proc.stdout!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        if (this.proc === proc) this.proc = null;
        reject(new Error(`server exited with ${code}:\n${this.log}`));
      });
    });
  }

  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    await exited;
    this.proc = null;
  }

  /** SIGSTOP / SIGCONT: the server stops answering but its sockets stay open. */
  async pause(): Promise<void> {
    const pid = this.proc?.pid;
    if (!pid) return;
    this.proc!.kill('SIGSTOP');
    // Wait until the kernel shows the process stopped.
    for (let i = 0; i < 100; i++) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (/\) [Tt] /.test(stat)) break;
      } catch {
        break; // no /proc: best effort
      }
      await sleep(10);
    }
    await sleep(20);
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** Deletes the history store (the server must be stopped). */
  wipeHistory(): void {
    for (const f of readdirSync(this.dataDir)) if (f.startsWith('history.db')) rmSync(join(this.dataDir, f));
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const init: RequestInit = { method, headers: { 'content-type': 'application/json' } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await fetch(this.httpUrl + path, init);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async publish(channel: string, data: unknown): Promise<{ offset: number; epoch: string }> {
    const r = await this.api('POST', '/api/publish', { channel, data });
    if (r.status !== 200) throw new Error(`publish failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async disconnect(client: string): Promise<number> {
    const r = await this.api('POST', '/api/disconnect', { client });
    return r.body.disconnected;
  }

  async startStream(channel: string, meta?: Record<string, unknown>): Promise<string> {
    const r = await this.api('POST', '/api/streams', meta ? { channel, meta } : { channel });
    if (r.status !== 200) throw new Error(`stream start failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.stream;
  }

  async append(stream: string, delta: string): Promise<{ status: number; body: any }> {
    return this.api('POST', `/api/streams/${stream}/append`, { delta });
  }

  async endStream(stream: string, reason?: string): Promise<{ status: number; body: any }> {
    return this.api('POST', `/api/streams/${stream}/end`, reason ? { reason } : {});
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until it holds, or fails after `timeout` ms. */
export async function waitFor(cond: () => boolean, timeout = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A WebSocket factory for tests: records every socket (so a test can cut one, like a network
 * failure) and has a gate: while closed, new connections go to a dead port and fail.
 */
export function controlledWebSocket(): {
  WebSocket: WebSocketConstructor;
  sockets: WebSocket[];
  gate: { open: boolean };
  cut: () => void;
} {
  const sockets: WebSocket[] = [];
  const gate = { open: true };
  class Controlled {
    constructor(url: string) {
      const ws = new WebSocket(gate.open ? url : 'ws://127.0.0.1:1/ws');
      sockets.push(ws);
      return ws as unknown as Controlled;
    }
  }
  return {
    WebSocket: Controlled as unknown as WebSocketConstructor,
    sockets,
    gate,
    // Drops the current connection without a close frame (the client sees 1006).
    cut: () => sockets[sockets.length - 1]?.terminate(),
  };
}

export type { WebSocketLike };
