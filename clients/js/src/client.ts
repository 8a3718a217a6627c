import { Emitter } from './emitter.js';
import { SwitchboardError, clientError } from './errors.js';
import { Subscription, type SubscribeOptions, type SubscriptionHost } from './subscription.js';
import type {
  HistoryMessage,
  HistoryOptions,
  HistoryPage,
  Member,
  PresenceStats,
  PublishOptions,
  PublishResult,
  ServerFrame,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js';
import { PresenceTracker } from './helpers/presence.js';
import { StreamTracker, type StreamTrackerOptions } from './helpers/stream.js';
import { TypingHandle, type TypingOptions } from './helpers/typing.js';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface ReconnectOptions {
  /** Base of the backoff, in ms (default 500). */
  minDelay?: number;
  /** Cap of the backoff, in ms (default 30000). */
  maxDelay?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** A connection that stayed up this long (ms) resets the backoff (default 5000). */
  resetAfter?: number;
  /** Give up (state `closed`) after this many failed attempts in a row (default: never). */
  maxAttempts?: number;
}

export interface HeartbeatOptions {
  /** Check every this many ms (default: the server's `ping_interval`). */
  interval?: number;
  /** A ping without any answer for this long (ms) drops the connection (default 10000). */
  timeout?: number;
}

export interface SwitchboardOptions {
  /** Sent in `connect` (the server accepts and does not check it yet). */
  token?: string;
  /** Called before each connection (and on `refresh_required`) for a fresh token. */
  getToken?: () => string | Promise<string>;
  /** The user this connection belongs to (sent in `connect`). */
  user?: string;
  /** Free-form data about the client, shown with presence (sent in `connect`). */
  info?: Record<string, unknown>;
  /** Backoff settings, or false to never reconnect automatically. */
  reconnect?: ReconnectOptions | false;
  /** Ms before a request without reply is rejected with TIMEOUT (default 10000). */
  requestTimeout?: number;
  /** Ms for the upgrade and the server's greeting (default 10000). */
  connectTimeout?: number;
  /** Most publishes kept while disconnected (default 100); beyond: OFFLINE_QUEUE_FULL. */
  offlineQueueSize?: number;
  /** Client-side liveness check (JSON ping when the server was silent), or false. Default on. */
  heartbeat?: HeartbeatOptions | boolean;
  /** Fetch holes in a channel's offsets from history before delivering later messages (default true). */
  fillGaps?: boolean;
  /** A WebSocket implementation. Default: `globalThis.WebSocket`, else the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Connect from the constructor (default true); otherwise call `connect()`. */
  autoConnect?: boolean;
}

export interface StateEvent {
  state: ConnectionState;
  previous: ConnectionState;
}

export interface ConnectedEvent {
  /** This connection's id (`POST /api/disconnect {"client": ...}` takes it). */
  client: string;
  user?: string;
  /** true from the second connection on. */
  reconnected: boolean;
  /** The server's keepalive interval in seconds. */
  pingInterval: number;
}

export interface DisconnectedEvent {
  /** WebSocket close code (1006 when the connection dropped without a close frame). */
  code: number;
  reason: string;
  /** Whether the client will try again. */
  willReconnect: boolean;
  /** The delay before the next attempt, in ms, when it will. */
  delay?: number;
}

export interface ClientEvents {
  state: StateEvent;
  connecting: { attempt: number };
  connected: ConnectedEvent;
  disconnected: DisconnectedEvent;
  /** Final: no reconnection (close(), close code 4000 or 4008, AUTH_FAILED, maxAttempts). */
  closed: { code?: number; reason: string };
  /** Errors that belong to no request (an `error` frame without id, a failed token refresh, ...). */
  error: SwitchboardError;
}

interface Pending {
  frame: Record<string, unknown>;
  request: string;
  channel?: string;
  resolve: (frame: ServerFrame) => void;
  reject: (err: SwitchboardError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** Close codes from docs/protocol.md. */
export const CloseCodes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  DISCONNECTED: 4000,
  SLOW_CONSUMER: 4001,
  PING_TIMEOUT: 4002,
  /** Bad or missing credentials: final (no reconnection with the same credentials). */
  AUTH_FAILED: 4003,
  /** The token expired without a refresh: reconnect (getToken is asked for a new one). */
  TOKEN_EXPIRED: 4004,
  /** Nothing but keepalives for the server's `limits.idle_timeout`: final; call connect() when the user is back. */
  IDLE_TIMEOUT: 4008,
} as const;

const OPEN = 1;

function errorFromFrame(frame: ServerFrame, request?: string, channel?: string): SwitchboardError {
  const details: { request?: string; channel?: string; retryAfter?: number } = {};
  if (request !== undefined) details.request = request;
  if (channel !== undefined) details.channel = channel;
  if (typeof frame.retry_after === 'number') details.retryAfter = frame.retry_after;
  return new SwitchboardError(String(frame.code ?? 'SERVER_ERROR'), String(frame.message ?? 'error'), frame.retryable === true, details);
}

async function resolveWebSocket(explicit?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (explicit) return explicit;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof global === 'function') return global;
  // Node without a global WebSocket: the optional peer dependency `ws`. The specifier is a
  // variable so that browser bundlers leave it alone (browsers never get here).
  const specifier = 'ws';
  try {
    const mod = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as {
      default?: WebSocketConstructor;
      WebSocket?: WebSocketConstructor;
    };
    const ctor = mod.default ?? mod.WebSocket;
    if (typeof ctor === 'function') return ctor;
  } catch {
    // fall through
  }
  throw clientError('NO_WEBSOCKET', 'no WebSocket implementation: pass options.WebSocket, or install the "ws" package');
}

/**
 * A Switchboard connection. One per application is enough: every channel is multiplexed on it.
 *
 * ```ts
 * const sb = new Switchboard('wss://rt.example.com/ws', { user: 'alice' });
 * const room = sb.subscribe<ChatMessage>('chat:room-1');
 * room.on('message', (m) => render(m.data));
 * await sb.publish('chat:room-1', { text: 'hi' });
 * ```
 */
export class Switchboard extends Emitter<ClientEvents> {
  readonly url: string;
  private readonly options: SwitchboardOptions;
  private readonly reconnectOptions: Required<Omit<ReconnectOptions, 'maxAttempts'>> & { maxAttempts: number } | null;
  private readonly requestTimeout: number;
  private readonly connectTimeout: number;
  private readonly offlineQueueSize: number;
  /** @internal */
  readonly fillGaps: boolean;

  private _state: ConnectionState = 'disconnected';
  private ws: WebSocketLike | null = null;
  private handshakeDone = false;
  private closedByUser = false;
  private attempt = 0;
  private connections = 0;
  private nextId = 1;
  private _clientId: string | null = null;
  private _user: string | undefined;
  private pingInterval = 25;
  private lastReceived = 0;
  private token: string | undefined;

  private readonly pending = new Map<number, Pending>();
  /** Publishes waiting for a connection (bounded by offlineQueueSize). */
  private readonly offlineQueue: Pending[] = [];
  /** Other requests waiting for a connection (bounded by their timeout). */
  private readonly waiting: Pending[] = [];
  private readonly subscriptions = new Map<string, Subscription<unknown>>();
  private readonly host: SubscriptionHost;

  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;

  constructor(url: string, options: SwitchboardOptions = {}) {
    super();
    this.url = url;
    this.options = options;
    this.token = options.token;
    this._user = options.user;
    const r = options.reconnect;
    this.reconnectOptions =
      r === false
        ? null
        : {
            minDelay: r?.minDelay ?? 500,
            maxDelay: r?.maxDelay ?? 30000,
            factor: r?.factor ?? 2,
            resetAfter: r?.resetAfter ?? 5000,
            maxAttempts: r?.maxAttempts ?? Infinity,
          };
    this.requestTimeout = options.requestTimeout ?? 10000;
    this.connectTimeout = options.connectTimeout ?? 10000;
    this.offlineQueueSize = options.offlineQueueSize ?? 100;
    this.fillGaps = options.fillGaps ?? true;
    const self = this;
    this.host = {
      get fillGaps() {
        return self.fillGaps;
      },
      isConnected: () => this.isConnected,
      sendNowSync: (frame, onReply, onError) => this.sendNowSync(frame, onReply, onError),
      publish: (channel, data) => this.publish(channel, data),
      history: (channel, opts) => this.history(channel, opts),
      presence: (channel) => this.presence(channel),
      sendEvent: (channel, event, data) => this.sendEvent(channel, event, data),
      release: (sub) => this.release(sub),
      retryDelay: (attempt) => this.backoff(attempt),
    };
    if (options.autoConnect !== false) this.connect();
  }

  // ---- state -----------------------------------------------------------------------------------

  get state(): ConnectionState {
    return this._state;
  }

  get isConnected(): boolean {
    return this._state === 'connected';
  }

  /** The current connection's id, or null while not connected. */
  get clientId(): string | null {
    return this._clientId;
  }

  get user(): string | undefined {
    return this._user;
  }

  /** Publishes waiting in the offline queue. */
  get queueSize(): number {
    return this.offlineQueue.length;
  }

  /** Resolves when the client is connected (at once if it is); rejects if it gets closed. */
  waitForConnection(): Promise<void> {
    if (this._state === 'connected') return Promise.resolve();
    if (this._state === 'closed') return Promise.reject(clientError('CLOSED', 'the client is closed'));
    return new Promise((resolve, reject) => {
      const offs = [
        this.on('connected', () => {
          offs.forEach((f) => f());
          resolve();
        }),
        this.on('closed', (e) => {
          offs.forEach((f) => f());
          reject(clientError('CLOSED', `the client is closed: ${e.reason}`));
        }),
      ];
    });
  }

  private setState(state: ConnectionState): void {
    if (state === this._state) return;
    const previous = this._state;
    this._state = state;
    this.emit('state', { state, previous });
  }

  // ---- connection ------------------------------------------------------------------------------

  /** Opens the connection (done by the constructor unless `autoConnect: false`); also reopens after `close()`. */
  connect(): void {
    if (this._state === 'connecting' || this._state === 'connected') return;
    this.closedByUser = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    void this.open();
  }

  /**
   * Closes the connection for good (no reconnection). Pending requests and queued publishes are
   * rejected with CLOSED. `connect()` opens it again.
   */
  close(): void {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const ws = this.ws;
    if (ws) {
      this.detach(ws);
      try {
        ws.close(1000, 'client closed');
      } catch {
        // already closing
      }
    }
    this.onConnectionLost(1000, 'client closed', true);
  }

  private async open(): Promise<void> {
    this.setState('connecting');
    this.emit('connecting', { attempt: this.attempt });
    let Ctor: WebSocketConstructor;
    try {
      Ctor = await resolveWebSocket(this.options.WebSocket);
      if (this.options.getToken) this.token = await this.options.getToken();
    } catch (err) {
      if (this.closedByUser || this._state !== 'connecting') return;
      const e = err instanceof SwitchboardError ? err : clientError('DISCONNECTED', `could not prepare the connection: ${String(err)}`);
      this.emit('error', e);
      if (e.code === 'NO_WEBSOCKET') return this.finalClose(undefined, e.message);
      return this.onConnectionLost(1006, e.message, false);
    }
    if (this.closedByUser || this._state !== 'connecting') return;
    let ws: WebSocketLike;
    try {
      ws = new Ctor(this.url);
    } catch (err) {
      this.emit('error', clientError('DISCONNECTED', `could not open ${this.url}: ${String(err)}`));
      return this.onConnectionLost(1006, String(err), false);
    }
    this.ws = ws;
    this.handshakeDone = false;
    ws.onopen = () => undefined;
    ws.onerror = () => undefined; // the close event follows with the details we use
    ws.onmessage = (ev) => this.onRaw(ws, ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.detach(ws);
      this.onConnectionLost(ev.code, ev.reason, false);
    };
    this.connectTimer = setTimeout(() => {
      if (this.ws !== ws || this.handshakeDone) return;
      this.drop(ws, 'connect timeout');
    }, this.connectTimeout);
  }

  /** Forgets a socket: later events of it are ignored. */
  private detach(ws: WebSocketLike): void {
    if (this.ws === ws) this.ws = null;
    ws.onmessage = () => undefined;
    ws.onclose = () => undefined;
    ws.onopen = () => undefined;
    ws.onerror = () => undefined;
  }

  /** Abandons a connection that looks dead and reconnects. */
  private drop(ws: WebSocketLike, reason: string): void {
    this.detach(ws);
    try {
      ws.close(4002, reason);
    } catch {
      // ignore
    }
    this.onConnectionLost(1006, reason, false);
  }

  private onRaw(ws: WebSocketLike, data: unknown): void {
    if (this.ws !== ws) return;
    this.lastReceived = Date.now();
    let text: string;
    if (typeof data === 'string') text = data;
    else if (data instanceof ArrayBuffer) text = new TextDecoder().decode(data);
    else if (ArrayBuffer.isView(data)) text = new TextDecoder().decode(data as Uint8Array);
    else text = String(data);
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      this.emit('error', new SwitchboardError('INVALID_MESSAGE', 'the server sent a frame that is not JSON', false));
      return;
    }
    if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;
    this.onFrame(ws, frame);
  }

  private onFrame(ws: WebSocketLike, frame: ServerFrame): void {
    if (frame.id !== undefined) {
      const id = typeof frame.id === 'number' ? frame.id : Number(frame.id);
      const p = this.pending.get(id);
      if (!p) return; // a reply after its timeout
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (frame.type === 'error') {
        p.reject(errorFromFrame(frame, p.request, p.channel));
      } else {
        p.resolve(frame);
      }
      return;
    }
    switch (frame.type) {
      case 'connected':
        if (!this.handshakeDone) this.onGreeting(ws, frame);
        return;
      case 'error': {
        const err = errorFromFrame(frame);
        this.emit('error', err);
        if (err.code === 'AUTH_FAILED') this.authFailed(err);
        return;
      }
      case 'refresh_required':
        void this.refreshToken();
        return;
      default: {
        const channel = typeof frame.channel === 'string' ? frame.channel : undefined;
        if (channel) this.subscriptions.get(channel)?._onFrame(frame);
      }
    }
  }

  private onGreeting(ws: WebSocketLike, frame: ServerFrame): void {
    this._clientId = String(frame.client);
    if (typeof frame.ping_interval === 'number' && frame.ping_interval > 0) this.pingInterval = frame.ping_interval;
    const { user, info } = this.options;
    if (user === undefined && info === undefined && this.token === undefined) return this.onReady(ws, frame);
    const connect: Record<string, unknown> = { type: 'connect' };
    if (user !== undefined) connect.user = user;
    if (info !== undefined) connect.info = info;
    if (this.token !== undefined) connect.token = this.token;
    this.sendNow(connect).then(
      (reply) => {
        if (this.ws === ws) this.onReady(ws, reply);
      },
      (err: SwitchboardError) => {
        if (this.ws !== ws) return;
        if (err.code === 'AUTH_FAILED') return this.authFailed(err);
        this.emit('error', err);
        if (err.code === 'TIMEOUT') return this.drop(ws, 'connect timeout');
        this.onReady(ws, { type: 'connected', client: this._clientId });
      },
    );
  }

  /** The connection is usable: resubscribe, flush what waited, announce it. */
  private onReady(ws: WebSocketLike, frame: ServerFrame): void {
    this.handshakeDone = true;
    clearTimeout(this.connectTimer);
    if (typeof frame.user === 'string') this._user = frame.user;
    const reconnected = this.connections > 0;
    this.connections += 1;
    this.lastReceived = Date.now();
    this.setState('connected');
    // Frames leave in this order and the server handles them in order: subscriptions (with
    // `since`) first, then what waited, so queued publishes come after the recovered messages.
    for (const sub of [...this.subscriptions.values()]) sub._sendSubscribe();
    for (const p of this.waiting.splice(0)) this.transmit(p);
    for (const p of this.offlineQueue.splice(0)) {
      this.armTimeout(p);
      this.transmit(p);
    }
    this.startHeartbeat(ws);
    const r = this.reconnectOptions;
    if (r) {
      clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => {
        if (this.ws === ws) this.attempt = 0;
      }, r.resetAfter);
    }
    const event: ConnectedEvent = { client: this._clientId ?? '', reconnected, pingInterval: this.pingInterval };
    if (this._user !== undefined) event.user = this._user;
    this.emit('connected', event);
  }

  private startHeartbeat(ws: WebSocketLike): void {
    clearInterval(this.heartbeatTimer);
    const hb = this.options.heartbeat;
    if (hb === false) return;
    const opts = typeof hb === 'object' ? hb : {};
    const interval = opts.interval ?? this.pingInterval * 1000;
    const timeout = opts.timeout ?? 10000;
    let probing = false;
    this.heartbeatTimer = setInterval(() => {
      if (this.ws !== ws || probing) return;
      if (Date.now() - this.lastReceived < interval) return;
      probing = true;
      this.sendNow({ type: 'ping' }, timeout).then(
        () => {
          probing = false;
        },
        (err: SwitchboardError) => {
          probing = false;
          if (err.code === 'TIMEOUT' && this.ws === ws) this.drop(ws, 'heartbeat timeout');
        },
      );
    }, Math.max(250, Math.min(interval, 5000)));
  }

  private onConnectionLost(code: number, reason: string, userClosed: boolean): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.stableTimer);
    clearInterval(this.heartbeatTimer);
    const wasState = this._state;
    this.handshakeDone = false;
    this._clientId = null;
    // Requests already sent will get no reply: reject them. Subscriptions wait for the resubscribe.
    const inFlight = [...this.pending.values()];
    this.pending.clear();
    for (const p of inFlight) {
      clearTimeout(p.timer);
      p.reject(
        clientError(
          'DISCONNECTED',
          p.request === 'publish'
            ? 'the connection was lost before the reply: the message may or may not have been published'
            : 'the connection was lost before the reply',
          { request: p.request, ...(p.channel !== undefined ? { channel: p.channel } : {}) },
        ),
      );
    }
    for (const sub of this.subscriptions.values()) sub._onDisconnected();
    if (userClosed || this.closedByUser) return this.finalClose(code, reason || 'client closed');
    if (code === CloseCodes.DISCONNECTED) return this.finalClose(code, reason || 'disconnected by the server');
    if (code === CloseCodes.IDLE_TIMEOUT) return this.finalClose(code, reason || 'idle timeout');
    if (code === CloseCodes.AUTH_FAILED) {
      this.emit('error', new SwitchboardError('AUTH_FAILED', reason || 'authentication failed', false));
      return this.finalClose(code, reason || 'authentication failed');
    }
    const r = this.reconnectOptions;
    if (!r) {
      this.setState('disconnected');
      if (wasState !== 'disconnected') this.emit('disconnected', { code, reason, willReconnect: false });
      return;
    }
    if (this.attempt >= r.maxAttempts) return this.finalClose(code, `gave up after ${this.attempt} attempts`);
    const delay = this.backoff(this.attempt);
    this.attempt += 1;
    this.setState('disconnected');
    this.emit('disconnected', { code, reason, willReconnect: true, delay });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this._state === 'disconnected' && !this.closedByUser) void this.open();
    }, delay);
  }

  /** Exponential backoff with full jitter: uniform in [0, min(maxDelay, minDelay * factor^attempt)]. */
  private backoff(attempt: number): number {
    const r = this.reconnectOptions ?? { minDelay: 500, maxDelay: 30000, factor: 2 };
    const cap = Math.min(r.maxDelay, r.minDelay * Math.pow(r.factor, Math.min(attempt, 64)));
    return Math.floor(Math.random() * cap);
  }

  private finalClose(code: number | undefined, reason: string): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const ws = this.ws;
    if (ws) {
      this.detach(ws);
      try {
        ws.close(1000, reason.slice(0, 100));
      } catch {
        // ignore
      }
    }
    this.closedByUser = true;
    const wasState = this._state;
    const err = clientError('CLOSED', `the client is closed: ${reason}`);
    for (const p of [...this.waiting.splice(0), ...this.offlineQueue.splice(0)]) {
      clearTimeout(p.timer);
      p.reject(new SwitchboardError(err.code, err.message, false, { request: p.request, ...(p.channel !== undefined ? { channel: p.channel } : {}) }));
    }
    this.setState('closed');
    if (wasState !== 'closed') {
      if (wasState === 'connected' || wasState === 'connecting')
        this.emit('disconnected', { code: code ?? 1000, reason, willReconnect: false });
      const e: { code?: number; reason: string } = { reason };
      if (code !== undefined) e.code = code;
      this.emit('closed', e);
    }
  }

  private authFailed(err: SwitchboardError): void {
    this.emit('error', err);
    this.finalClose(undefined, `authentication failed: ${err.message}`);
  }

  private async refreshToken(): Promise<void> {
    const getToken = this.options.getToken;
    if (!getToken) {
      this.emit('error', new SwitchboardError('AUTH_FAILED', 'the server asked for a token refresh and no getToken option is set', false));
      return;
    }
    try {
      this.token = await getToken();
      await this.sendNow({ type: 'refresh', token: this.token });
    } catch (err) {
      const e = err instanceof SwitchboardError ? err : new SwitchboardError('AUTH_FAILED', `token refresh failed: ${String(err)}`, false);
      if (e.code === 'AUTH_FAILED') this.authFailed(e);
      else if (e.code !== 'DISCONNECTED' && e.code !== 'CLOSED') this.emit('error', e);
    }
  }

  // ---- requests --------------------------------------------------------------------------------

  private makePending(frame: Record<string, unknown>, resolve: Pending['resolve'], reject: Pending['reject']): Pending {
    const p: Pending = { frame, request: String(frame.type), resolve, reject };
    if (typeof frame.channel === 'string') p.channel = frame.channel;
    return p;
  }

  private armTimeout(p: Pending, ms: number = this.requestTimeout): void {
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      const id = p.frame.id as number | undefined;
      if (id !== undefined) this.pending.delete(id);
      const i = this.waiting.indexOf(p);
      if (i >= 0) this.waiting.splice(i, 1);
      const q = this.offlineQueue.indexOf(p);
      if (q >= 0) this.offlineQueue.splice(q, 1);
      p.reject(
        clientError('TIMEOUT', `no reply to '${p.request}' within ${ms} ms`, {
          request: p.request,
          ...(p.channel !== undefined ? { channel: p.channel } : {}),
        }),
      );
    }, ms);
  }

  /** Puts an id on the frame and sends it; the reply settles the pending entry. */
  private transmit(p: Pending): void {
    const ws = this.ws;
    if (!ws || !this.handshakeDone) {
      // Lost between the decision and now: wait for the next connection.
      if (p.request === 'publish') this.offlineQueue.unshift(p);
      else this.waiting.push(p);
      return;
    }
    this.sendPending(ws, p, p.reject);
  }

  /** Gives `p` its id, registers it for its reply and sends it; `onError` if the socket refuses. */
  private sendPending(ws: WebSocketLike, p: Pending, onError: (err: SwitchboardError) => void): void {
    const id = this.nextId++;
    p.frame.id = id;
    this.pending.set(id, p);
    try {
      ws.send(JSON.stringify(p.frame));
    } catch (err) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      onError(clientError('DISCONNECTED', `could not send: ${String(err)}`, { request: p.request }));
    }
  }

  /** @internal Sends now on the current socket (handshake or connected); no queueing. */
  sendNow(frame: Record<string, unknown>, timeout?: number): Promise<ServerFrame> {
    return new Promise((resolve, reject) => this.sendNowSync(frame, resolve, reject, timeout));
  }

  /**
   * @internal Like sendNow, but the reply is handled synchronously, before the frames that follow
   * it on the socket (a `subscribed` reply must be applied before its recovered messages).
   */
  sendNowSync(
    frame: Record<string, unknown>,
    onReply: (frame: ServerFrame) => void,
    onError: (err: SwitchboardError) => void,
    timeout?: number,
  ): void {
    const p = this.makePending({ ...frame }, onReply, onError);
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) {
      onError(clientError('DISCONNECTED', 'not connected', { request: p.request }));
      return;
    }
    this.armTimeout(p, timeout);
    this.sendPending(ws, p, onError);
  }

  /**
   * Sends a request and resolves with its reply frame. While not connected the request waits for
   * the connection (its timeout runs meanwhile); on a closed client it is rejected with CLOSED.
   */
  request(frame: Record<string, unknown>): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      const p = this.makePending({ ...frame }, resolve, reject);
      if (this._state === 'closed') return reject(clientError('CLOSED', 'the client is closed', { request: p.request }));
      this.armTimeout(p);
      if (this._state === 'connected') this.transmit(p);
      else this.waiting.push(p);
    });
  }

  /**
   * Publishes `data` into `channel`; resolves with the message's offset and epoch once the server
   * accepted it (stored first, in a namespace with history). While disconnected the publish waits
   * in the offline queue (in order, at most `offlineQueueSize`); a full queue rejects with
   * OFFLINE_QUEUE_FULL. The timeout starts when the publish is actually sent.
   */
  publish<T = unknown>(channel: string, data: T, options: PublishOptions = {}): Promise<PublishResult> {
    const frame: Record<string, unknown> = { type: 'publish', channel, data: data === undefined ? null : data };
    if (options.tags) frame.tags = options.tags;
    return new Promise<ServerFrame>((resolve, reject) => {
      const p = this.makePending(frame, resolve, reject);
      if (this._state === 'closed') return reject(clientError('CLOSED', 'the client is closed', { request: 'publish', channel }));
      if (this._state === 'connected') {
        this.armTimeout(p);
        return this.transmit(p);
      }
      if (this.offlineQueue.length >= this.offlineQueueSize)
        return reject(
          clientError('OFFLINE_QUEUE_FULL', `offline queue full (${this.offlineQueueSize} publishes waiting): not queued`, {
            request: 'publish',
            channel,
          }),
        );
      this.offlineQueue.push(p);
    }).then((r) => ({ channel, offset: Number(r.offset), epoch: String(r.epoch) }));
  }

  /** Reads stored messages of a channel (see docs/protocol.md#history). */
  async history<T = unknown>(channel: string, options: HistoryOptions = {}): Promise<HistoryPage<T>> {
    const frame: Record<string, unknown> = { type: 'history', channel };
    if (options.since !== undefined) frame.since = options.since;
    if (options.before !== undefined) frame.before = options.before;
    if (options.limit !== undefined) frame.limit = options.limit;
    if (options.reverse !== undefined) frame.reverse = options.reverse;
    if (options.filter !== undefined) frame.filter = options.filter;
    const r = await this.request(frame);
    return {
      channel,
      messages: (r.messages as HistoryMessage<T>[]) ?? [],
      offset: Number(r.offset),
      epoch: String(r.epoch),
      firstOffset: Number(r.first_offset ?? 0),
      ...(r.next !== undefined ? { next: Number(r.next) } : {}),
    };
  }

  /**
   * Pages backward through a channel's history, newest first, one request per `pageSize`
   * messages. Throws EPOCH_CHANGED if the channel starts over while paging.
   *
   * ```ts
   * for await (const m of sb.iterateHistory('chat:room-1', { pageSize: 50 })) { ... }
   * ```
   */
  async *iterateHistory<T = unknown>(
    channel: string,
    options: { pageSize?: number; before?: number; max?: number } = {},
  ): AsyncGenerator<HistoryMessage<T>, void, undefined> {
    const pageSize = Math.max(1, Math.min(1000, options.pageSize ?? 100));
    let before = options.before ?? 0;
    let epoch: string | undefined;
    let left = options.max ?? Infinity;
    while (left > 0) {
      const page = await this.history<T>(channel, { before, limit: Math.min(pageSize, left), reverse: true });
      if (epoch === undefined) epoch = page.epoch;
      else if (page.epoch !== epoch)
        throw clientError('EPOCH_CHANGED', `channel '${channel}' started a new epoch while paging`, { channel });
      for (const m of page.messages) {
        yield m;
        left -= 1;
      }
      // The server says where the next page starts, and gives no cursor on the last one. (A short
      // page is not the end: the server cuts pages at a byte budget.)
      if (page.next === undefined) return;
      before = page.next;
    }
  }

  /** The members of a channel with presence. */
  async presence(channel: string): Promise<Member[]> {
    const r = await this.request({ type: 'presence', channel });
    return (r.members as Member[]) ?? [];
  }

  /** Counts of a channel's members. */
  async presenceStats(channel: string): Promise<PresenceStats> {
    const r = await this.request({ type: 'presence_stats', channel });
    return { channel, clients: Number(r.clients ?? 0), users: Number(r.users ?? 0) };
  }

  /** Relays an ephemeral event to the other subscribers of `channel` (the sender must be subscribed). */
  async sendEvent(channel: string, event: string, data?: unknown): Promise<void> {
    const frame: Record<string, unknown> = { type: 'event', channel, event };
    if (data !== undefined) frame.data = data;
    await this.request(frame);
  }

  /** Asks the server to cancel a running stream (the channel must be subscribed). */
  async cancelStream(stream: string): Promise<void> {
    await this.request({ type: 'stream_cancel', stream });
  }

  /**
   * Asks the app's backend (`[proxy] rpc_url`, see docs/backend.md#rpc): resolves with the
   * `data` of its answer; rejects with a SwitchboardError carrying the backend's own `code` and
   * message, or BACKEND_UNAVAILABLE (retryable) / BACKEND_ERROR. Waits for a connection like
   * other requests (its timeout runs meanwhile).
   */
  async rpc<T = unknown>(method: string, data?: unknown): Promise<T> {
    const frame: Record<string, unknown> = { type: 'rpc', method };
    if (data !== undefined) frame.data = data;
    const r = await this.request(frame);
    return r.data as T;
  }

  /** Round trip to the server. */
  async ping(): Promise<number> {
    const t = Date.now();
    await this.request({ type: 'ping' });
    return Date.now() - t;
  }

  // ---- subscriptions ---------------------------------------------------------------------------

  /**
   * Subscribes to a channel. Calling it again for the same channel returns the same object with
   * one more reference; `unsubscribe()` releases one.
   */
  subscribe<T = unknown>(channel: string, options: SubscribeOptions = {}): Subscription<T> {
    const existing = this.subscriptions.get(channel);
    if (existing && existing.state !== 'unsubscribed' && existing.state !== 'failed') {
      existing._retain();
      return existing as Subscription<T>;
    }
    const sub = new Subscription<T>(this.host, channel, options);
    this.subscriptions.set(channel, sub as Subscription<unknown>);
    // On a client that is not connected (closed included) it waits: sent on the next connection.
    if (this._state === 'connected') sub._sendSubscribe();
    return sub;
  }

  /** The subscription of a channel, if any. */
  getSubscription<T = unknown>(channel: string): Subscription<T> | undefined {
    return this.subscriptions.get(channel) as Subscription<T> | undefined;
  }

  private release(sub: Subscription<unknown>): void {
    if (this.subscriptions.get(sub.channel) !== sub) return;
    this.subscriptions.delete(sub.channel);
    if (this._state === 'connected' && sub._mayBeSubscribed()) {
      this.sendNow({ type: 'unsubscribe', channel: sub.channel }).catch(() => undefined);
    }
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** Sends typing indicators for `channel`, renewed while started (see TypingHandle). */
  typing(channel: string, options: TypingOptions = {}): TypingHandle {
    return new TypingHandle(this, channel, options);
  }

  /** Keeps a live member list of `channel` from `presence` plus join/leave events. */
  presenceTracker(channel: string): PresenceTracker {
    return new PresenceTracker(this, channel);
  }

  /** Assembles the streams of `channel` (stream_start/delta/end) into text. */
  stream(channel: string, options: StreamTrackerOptions = {}): StreamTracker {
    return new StreamTracker(this, channel, options);
  }
}
