// The dashboard's one WebSocket: it watches the chosen channel (docs/protocol.md), reconnecting by
// itself. It speaks the raw protocol, which is all it needs: connect, subscribe, unsubscribe.

export interface LiveMessage {
  channel: string;
  offset: number;
  ts: number;
  data: unknown;
}

export interface LiveHandlers {
  // The subscription took effect: `epoch` and `offset` are the channel's position.
  subscribed(channel: string, offset: number, epoch: string): void;
  message(m: LiveMessage): void;
  // join, leave: someone's presence changed.
  presence(channel: string): void;
  state(state: 'connecting' | 'open' | 'closed'): void;
}

export class LiveChannel {
  private ws: WebSocket | null = null;
  private channel = '';
  private nextId = 1;
  private retry = 0;
  private timer: number | undefined;
  private stopped = false;

  constructor(
    private url: string,
    private handlers: LiveHandlers,
  ) {
    this.open();
  }

  // Watches `channel` (or nothing with ''), leaving the previous one.
  watch(channel: string): void {
    if (channel === this.channel) return;
    const previous = this.channel;
    this.channel = channel;
    if (this.ws?.readyState !== WebSocket.OPEN) return;  // subscribed on open
    if (previous) this.send({ type: 'unsubscribe', id: this.nextId++, channel: previous });
    if (channel) this.send({ type: 'subscribe', id: this.nextId++, channel });
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(1000);
  }

  private send(frame: object): void {
    this.ws?.send(JSON.stringify(frame));
  }

  private open(): void {
    this.handlers.state('connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.handlers.state('open');
      // Named, so that the dashboard shows as itself in presence lists.
      this.send({ type: 'connect', id: this.nextId++, user: 'dashboard', info: { name: 'Switchboard dashboard' } });
      if (this.channel) this.send({ type: 'subscribe', id: this.nextId++, channel: this.channel });
    };
    ws.onmessage = (e) => {
      let f: any;
      try {
        f = JSON.parse(typeof e.data === 'string' ? e.data : '');
      } catch {
        return;
      }
      if (f.channel !== this.channel) return;  // a frame of a channel left a moment ago
      if (f.type === 'subscribed') this.handlers.subscribed(f.channel, f.offset, f.epoch);
      else if (f.type === 'message') this.handlers.message(f as LiveMessage);
      else if (f.type === 'join' || f.type === 'leave') this.handlers.presence(f.channel);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.handlers.state('closed');
      if (this.stopped) return;
      // 0.5 s, 1 s, 2 s ... up to 10 s, with jitter so that many tabs do not come back at once.
      const delay = Math.min(10_000, 500 * 2 ** this.retry++) * (0.75 + Math.random() / 2);
      this.timer = window.setTimeout(() => this.open(), delay);
    };
  }
}
