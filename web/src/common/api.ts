// A small client for the server's HTTP API (docs/http-api.md), used by the dashboard and by the
// demo's "backend" part. The API key, if any, lives in sessionStorage only: it is gone when the
// tab closes and is never written to localStorage or a cookie.

const KEY_STORAGE = 'switchboard.apiKey';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}

export function loadApiKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function saveApiKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key lives in memory only
  }
}

// Whether the page was loaded under a loopback name, where a server without API keys answers
// the HTTP API (the server decides by the peer address and the Host header, which is this name:
// localhost, 127.0.0.0/8 or [::1], or a name of its allowed_hosts, which the page cannot know).
export function onLoopback(): boolean {
  const h = location.hostname;
  return h === 'localhost' || h === '[::1]' || h === '::1' || /^127\./.test(h);
}

export interface Stats {
  connections: number;
  connections_total: number;
  subscriptions: number;
  channels: number;
  messages_in: number;
  messages_out: number;
  bytes_in: number;
  bytes_out: number;
  slow_consumers: number;
  uptime_seconds: number;
}

export interface ChannelInfo {
  channel: string;
  subscribers: number;
}

export interface Member {
  client: string;
  user: string;
  info?: unknown;
}

export interface StoredMessage {
  offset: number;
  ts: number;
  data: unknown;
}

export interface HistoryPage {
  channel: string;
  offset: number;
  epoch: string;
  first_offset: number;
  messages: StoredMessage[];
}

export interface Published {
  channel: string;
  offset: number;
  epoch: string;
}

export class HttpApi {
  // Called after each answered request: true when it was accepted, false on 401.
  onAuth: (ok: boolean, usedKey: boolean) => void = () => {};

  constructor(
    private key: () => string = loadApiKey,
    private base = '',
  ) {}

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    const key = this.key();
    if (key) headers['Authorization'] = `Bearer ${key}`;
    // The server refuses a body of any other type (415): a page elsewhere could send those
    // without a CORS preflight.
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'NETWORK', `server unreachable (${(e as Error).message})`, true);
    }
    let json: any = null;
    try {
      json = await res.json();
    } catch {
      // not JSON (a proxy's page, say)
    }
    if (res.status === 401) this.onAuth(false, key !== '');
    else this.onAuth(true, key !== '');
    if (!res.ok) {
      const err = json?.error;
      throw new ApiError(res.status, err?.code ?? 'HTTP_' + res.status, err?.message ?? res.statusText, !!err?.retryable);
    }
    return json as T;
  }

  stats(): Promise<Stats> {
    return this.request('GET', '/api/stats');
  }

  async channels(): Promise<ChannelInfo[]> {
    const r = await this.request<{ channels: ChannelInfo[] }>('GET', '/api/channels');
    return r.channels;
  }

  async presence(channel: string): Promise<Member[]> {
    const r = await this.request<{ members: Member[] }>('GET', `/api/presence?channel=${encodeURIComponent(channel)}`);
    return r.members;
  }

  history(channel: string, opts: { limit?: number; reverse?: boolean; since?: number; before?: number } = {}): Promise<HistoryPage> {
    const q = new URLSearchParams({ channel });
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.reverse !== undefined) q.set('reverse', String(opts.reverse));
    if (opts.since !== undefined) q.set('since', String(opts.since));
    if (opts.before !== undefined) q.set('before', String(opts.before));
    // URLSearchParams writes ':' as %3A, which the server decodes; '+' must stay %2B, which it does.
    return this.request('GET', `/api/history?${q.toString()}`);
  }

  publish(channel: string, data: unknown): Promise<Published> {
    return this.request('POST', '/api/publish', { channel, data });
  }

  startStream(channel: string, meta?: Record<string, unknown>): Promise<{ stream: string; channel: string }> {
    return this.request('POST', '/api/streams', meta ? { channel, meta } : { channel });
  }

  appendStream(stream: string, delta: string): Promise<{ stream: string; seq: number }> {
    return this.request('POST', `/api/streams/${encodeURIComponent(stream)}/append`, { delta });
  }

  endStream(stream: string, reason = 'done'): Promise<{ stream: string; offset: number; epoch: string }> {
    return this.request('POST', `/api/streams/${encodeURIComponent(stream)}/end`, { reason });
  }
}

// The WebSocket URL of the server that served this page.
export function wsUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

export function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e;
}

export function formatData(data: unknown): string {
  if (typeof data === 'string') return data;
  return JSON.stringify(data);
}

export function formatTime(ts: number): string {
  const d = new Date(ts);
  return d.toLocaleTimeString([], { hour12: false });
}
