import { Emitter } from './emitter.js';
import { SwitchboardError } from './errors.js';
import type {
  ChannelEvent,
  Filter,
  HistoryOptions,
  HistoryPage,
  JoinLeaveEvent,
  Message,
  Member,
  Position,
  PublishResult,
  Sender,
  Tags,
  ServerFrame,
  StreamDeltaEvent,
  StreamEndEvent,
  StreamStartEvent,
  TypingEvent,
} from './types.js';

/** A frame's `from` (docs/protocol.md#publisher-identity), when it has one. */
function senderOf(frame: ServerFrame): Sender | undefined {
  const f = frame.from;
  if (!f || typeof f !== 'object' || Array.isArray(f)) return undefined;
  const o = f as Record<string, unknown>;
  const sender: Sender = { user: String(o.user ?? ''), client: String(o.client ?? '') };
  if (o.info && typeof o.info === 'object') sender.info = o.info as Record<string, unknown>;
  if (o.verified === false) sender.verified = false;
  return sender;
}

export type SubscriptionState =
  /** Waiting for the `subscribed` reply (first time, or again after a reconnect). */
  | 'pending'
  | 'subscribed'
  /** `unsubscribe()` was called: the object is dead. */
  | 'unsubscribed'
  /** The server refused the subscription with a non-retryable error (UNKNOWN_CHANNEL, ...). */
  | 'failed';

export interface SubscribedEvent {
  channel: string;
  /** The channel's position given by the server. */
  offset: number;
  epoch: string;
  /** Only when the subscribe asked to recover (`since`): true when every missed message follows. */
  recovered?: boolean;
  /** true for the subscribes the client sends again after a reconnect. */
  resubscribed: boolean;
}

export interface ResetEvent {
  channel: string;
  /** The position the client held, which the server could not continue. */
  previous: Position | null;
  /** The new position: live messages continue after it. */
  offset: number;
  epoch: string;
}

export interface GapEvent {
  channel: string;
  /** Offsets from..to (inclusive) were skipped: not retained in history, or never stored. */
  from: number;
  to: number;
}

export interface SubscriptionEvents<T> {
  message: Message<T>;
  subscribed: SubscribedEvent;
  /**
   * The server could not continue from the position the client held (`recovered: false`, or a
   * `reset` frame from a cluster node that was cut off from Redis): messages were missed and
   * cannot be replayed. Reload the channel's state (from your backend or
   * `history`) and go on from the live messages.
   */
  reset: ResetEvent;
  /** Offsets that were skipped and could not be fetched from history. */
  gap: GapEvent;
  error: SwitchboardError;
  join: JoinLeaveEvent;
  leave: JoinLeaveEvent;
  typing: TypingEvent;
  event: ChannelEvent;
  stream_start: StreamStartEvent;
  stream_delta: StreamDeltaEvent;
  stream_end: StreamEndEvent;
  unsubscribed: { channel: string };
}

/** What a Subscription needs from its client (internal). */
export interface SubscriptionHost {
  readonly fillGaps: boolean;
  isConnected(): boolean;
  /** Sends a request now; the reply (or error) is handled synchronously, in frame order. */
  sendNowSync(frame: Record<string, unknown>, onReply: (f: ServerFrame) => void, onError: (e: SwitchboardError) => void): void;
  publish(channel: string, data: unknown): Promise<PublishResult>;
  history<T>(channel: string, options: HistoryOptions): Promise<HistoryPage<T>>;
  presence(channel: string): Promise<Member[]>;
  sendEvent(channel: string, event: string, data?: unknown): Promise<void>;
  release(subscription: Subscription<unknown>): void;
  retryDelay(attempt: number): number;
}

export interface SubscribeOptions {
  /**
   * Resume from a position the application saved (for example in localStorage): the first
   * subscribe asks the server to replay what came after it.
   */
  since?: Position;
  /**
   * A subscription token, for channels of private namespaces: a string, or a function called
   * before each (re)subscribe (tokens expire; return a fresh one).
   */
  token?: string | ((channel: string) => string | Promise<string>);
  /**
   * Only messages whose tags match it reach this subscription, recovered ones included
   * (docs/filters.md). Offsets then have holes by design: they are not reported as gaps.
   */
  filter?: Filter;
}

/**
 * A channel subscription. Created by `Switchboard.subscribe()`; one object per channel, shared by
 * every caller (reference-counted: the channel is unsubscribed when the last holder calls
 * `unsubscribe()`).
 */
export class Subscription<T = unknown> extends Emitter<SubscriptionEvents<T>> {
  readonly channel: string;
  private _state: SubscriptionState = 'pending';
  private _position: Position | null;
  private everSubscribed = false;
  private refs = 1;
  /** Bumped at each `subscribed`: async work of an older round is ignored. */
  private generation = 0;
  private inFlight = false;
  private retryAttempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Messages held while a gap is being fetched from history. */
  private held: Message<T>[] | null = null;
  private readyPromise: Promise<SubscribedEvent>;
  private resolveReady!: (e: SubscribedEvent) => void;
  private rejectReady!: (e: SwitchboardError) => void;
  private readySettled = false;

  private readonly token: SubscribeOptions['token'];
  private readonly filter: Filter | undefined;

  /** @internal */
  constructor(
    private readonly host: SubscriptionHost,
    channel: string,
    options: SubscribeOptions = {},
  ) {
    super();
    this.channel = channel;
    this.token = options.token;
    this.filter = options.filter;
    this._position = options.since ? { ...options.since } : null;
    this.readyPromise = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Avoid an unhandled rejection when nobody awaits `ready`.
    this.readyPromise.catch(() => undefined);
  }

  get state(): SubscriptionState {
    return this._state;
  }

  /** The position of the last message delivered (or of the subscription point), or null. */
  get position(): Position | null {
    return this._position ? { ...this._position } : null;
  }

  /** Resolves with the first `subscribed` event; rejects if the server refuses the channel. */
  get ready(): Promise<SubscribedEvent> {
    return this.readyPromise;
  }

  /** Publishes into this channel (see `Switchboard.publish`). */
  publish(data: T): Promise<PublishResult> {
    return this.host.publish(this.channel, data);
  }

  history(options: HistoryOptions = {}): Promise<HistoryPage<T>> {
    return this.host.history<T>(this.channel, options);
  }

  presence(): Promise<Member[]> {
    return this.host.presence(this.channel);
  }

  /** Relays an ephemeral event to the channel's other subscribers (not stored). */
  sendEvent(event: string, data?: unknown): Promise<void> {
    return this.host.sendEvent(this.channel, event, data);
  }

  /**
   * Releases this holder's reference. When the last holder releases it, the client sends
   * `unsubscribe` and the object stops emitting.
   */
  unsubscribe(): void {
    if (this._state === 'unsubscribed') return;
    this.refs -= 1;
    if (this.refs > 0) return;
    // Released first: the client sends `unsubscribe` only while this may still be subscribed.
    this.host.release(this as Subscription<unknown>);
    this.dispose();
    this.emit('unsubscribed', { channel: this.channel });
  }

  // ---- internal, called by the client -------------------------------------------------------

  /** @internal */
  _retain(): void {
    this.refs += 1;
  }

  /** @internal Whether the server may hold this subscription (an unsubscribe is then needed). */
  _mayBeSubscribed(): boolean {
    return this.inFlight || this._state === 'subscribed';
  }

  /** @internal */
  _dispose(): void {
    this.dispose();
  }

  private dispose(): void {
    this._state = 'unsubscribed';
    clearTimeout(this.retryTimer);
    this.held = null;
    if (!this.readySettled) {
      this.readySettled = true;
      this.rejectReady(new SwitchboardError('CLOSED', `unsubscribed from '${this.channel}'`, false, { channel: this.channel }));
    }
  }

  /** @internal The client just (re)connected, or created this subscription while connected. */
  _sendSubscribe(): void {
    if (this._state === 'unsubscribed' || this._state === 'failed' || this.inFlight) return;
    clearTimeout(this.retryTimer);
    const token = this.token;
    if (typeof token === 'function') {
      // Fetch a fresh subscription token first; give up this round if the connection changed.
      const generation = this.generation;
      this.inFlight = true;
      Promise.resolve()
        .then(() => token(this.channel))
        .then(
          (t) => {
            this.inFlight = false;
            if (generation !== this.generation || this._state === 'unsubscribed' || !this.host.isConnected()) return;
            this.send(t);
          },
          (err: unknown) => {
            this.inFlight = false;
            if (generation !== this.generation || this._state === 'unsubscribed') return;
            this.onSubscribeError(
              new SwitchboardError('AUTH_FAILED', `could not get a subscription token: ${String(err)}`, true, { request: 'subscribe', channel: this.channel }),
            );
          },
        );
      return;
    }
    this.send(token);
  }

  private send(token: string | undefined): void {
    const frame: Record<string, unknown> = { type: 'subscribe', channel: this.channel };
    if (this._position) frame.since = { offset: this._position.offset, epoch: this._position.epoch };
    if (token) frame.token = token;
    if (this.filter) frame.filter = this.filter;
    this.inFlight = true;
    this.host.sendNowSync(
      frame,
      (reply) => {
        this.inFlight = false;
        if (this._state === 'unsubscribed') return;
        this.onSubscribed(reply);
      },
      (err: SwitchboardError) => {
        this.inFlight = false;
        if (this._state === 'unsubscribed') return;
        if (err.code === 'DISCONNECTED' || err.code === 'CLOSED') return; // resubscribed on reconnect
        this.onSubscribeError(err);
      },
    );
  }

  private onSubscribeError(err: SwitchboardError): void {
    this.emit('error', err);
    if (err.retryable) {
      const delay = Math.max(err.retryAfter ?? 0, this.host.retryDelay(this.retryAttempt++));
      this.retryTimer = setTimeout(() => {
        if (this.host.isConnected()) this._sendSubscribe();
      }, delay);
      return;
    }
    this._state = 'failed';
    if (!this.readySettled) {
      this.readySettled = true;
      this.rejectReady(err);
    }
    this.host.release(this as Subscription<unknown>);
  }

  /** @internal The connection was lost. */
  _onDisconnected(): void {
    if (this._state === 'subscribed') this._state = 'pending';
    this.inFlight = false;
    clearTimeout(this.retryTimer);
    this.held = null;
    this.generation += 1;
  }

  private onSubscribed(reply: ServerFrame): void {
    const offset = Number(reply.offset);
    const epoch = String(reply.epoch);
    const recovered = typeof reply.recovered === 'boolean' ? reply.recovered : undefined;
    const previous = this._position;
    this.generation += 1;
    this.held = null;
    this.retryAttempt = 0;
    if (recovered !== true) {
      // First subscribe: live messages come after this offset. recovered false: same, after a reset.
      this._position = { offset, epoch };
    }
    const resubscribed = this.everSubscribed;
    this.everSubscribed = true;
    this._state = 'subscribed';
    const event: SubscribedEvent = { channel: this.channel, offset, epoch, resubscribed };
    if (recovered !== undefined) event.recovered = recovered;
    if (!this.readySettled) {
      this.readySettled = true;
      this.resolveReady(event);
    }
    this.emit('subscribed', event);
    if (recovered === false) this.emit('reset', { channel: this.channel, previous, offset, epoch });
  }

  /** @internal A frame of this channel that is not a reply. */
  _onFrame(frame: ServerFrame): void {
    if (this._state === 'unsubscribed') return;
    switch (frame.type) {
      case 'message': {
        const m: Message<T> = {
          channel: this.channel,
          data: frame.data as T,
          offset: Number(frame.offset),
          ts: Number(frame.ts),
          epoch: this._position?.epoch ?? '',
        };
        const from = senderOf(frame);
        if (from) m.from = from;
        if (frame.tags && typeof frame.tags === 'object') m.tags = frame.tags as Tags;
        return this.onMessage(m);
      }
      case 'reset': {
        // In a cluster: messages were lost for this connection (its node was cut off from Redis
        // beyond what history keeps). Live messages go on after the position given.
        const previous = this._position;
        const offset = Number(frame.offset);
        const epoch = String(frame.epoch);
        this.generation += 1; // a gap fill in flight is moot
        this.held = null;
        this._position = { offset, epoch };
        return this.emit('reset', { channel: this.channel, previous, offset, epoch });
      }
      case 'join':
      case 'leave': {
        const e: JoinLeaveEvent = { channel: this.channel, client: String(frame.client), user: String(frame.user ?? '') };
        if (frame.info && typeof frame.info === 'object') e.info = frame.info as Record<string, unknown>;
        return this.emit(frame.type, e);
      }
      case 'typing': {
        const e: TypingEvent = {
          channel: this.channel,
          client: String(frame.client),
          user: String(frame.user ?? ''),
          typing: frame.typing === true,
        };
        const from = senderOf(frame);
        if (from) e.from = from;
        return this.emit('typing', e);
      }
      case 'event': {
        const e: ChannelEvent = {
          channel: this.channel,
          event: String(frame.event),
          client: String(frame.client ?? ''),
          user: String(frame.user ?? ''),
        };
        if ('data' in frame) e.data = frame.data;
        const from = senderOf(frame);
        if (from) e.from = from;
        return this.emit('event', e);
      }
      case 'stream_start': {
        const e: StreamStartEvent = { channel: this.channel, stream: String(frame.stream) };
        if (frame.meta && typeof frame.meta === 'object') e.meta = frame.meta as Record<string, unknown>;
        return this.emit('stream_start', e);
      }
      case 'stream_delta':
        return this.emit('stream_delta', {
          channel: this.channel,
          stream: String(frame.stream),
          seq: Number(frame.seq),
          delta: String(frame.delta ?? ''),
        });
      case 'stream_end':
        return this.emit('stream_end', {
          channel: this.channel,
          stream: String(frame.stream),
          seq: Number(frame.seq),
          reason: String(frame.reason ?? ''),
        });
      default:
        return;
    }
  }

  private onMessage(message: Message<T>): void {
    if (this.held) {
      this.held.push(message);
      return;
    }
    this.accept(message);
  }

  /** Delivers `message` once and in order, fetching a hole from history first if there is one. */
  private accept(message: Message<T>): void {
    const pos = this._position;
    if (pos) {
      message.epoch = pos.epoch;
      if (message.offset <= pos.offset) return; // already delivered (recovery overlap)
      // Filtered: the server skips what does not match, so holes are expected, not gaps (and the
      // server recovers missed matches itself on reconnect).
      if (this.filter) {
        this._position = { offset: message.offset, epoch: message.epoch };
        this.emit('message', message);
        return;
      }
      if (message.offset > pos.offset + 1 && this.host.fillGaps && this.host.isConnected()) {
        this.fillGap(pos, message);
        return;
      }
      if (message.offset > pos.offset + 1)
        this.emit('gap', { channel: this.channel, from: pos.offset + 1, to: message.offset - 1 });
    }
    this._position = { offset: message.offset, epoch: message.epoch };
    this.emit('message', message);
  }

  private fillGap(pos: Position, next: Message<T>): void {
    const generation = this.generation;
    this.held = [next];
    void this.fetchGap(pos, next, generation).then(
      () => {
        if (generation !== this.generation || this._state === 'unsubscribed') return;
        const cur = this._position?.offset ?? pos.offset;
        if (next.offset > cur + 1) {
          this.emit('gap', { channel: this.channel, from: cur + 1, to: next.offset - 1 });
          this._position = { offset: next.offset - 1, epoch: pos.epoch };
        }
        const held = this.held ?? [];
        this.held = null;
        for (const m of held) this.onMessage(m); // holds again if accept() opens another gap
      },
      () => {
        // Disconnected meanwhile: the resubscribe recovers from the position we still hold.
        if (generation !== this.generation || this._state === 'unsubscribed') return;
        const held = this.held ?? [];
        this.held = null;
        const cur = this._position?.offset ?? pos.offset;
        if (next.offset > cur + 1) {
          this.emit('gap', { channel: this.channel, from: cur + 1, to: next.offset - 1 });
          this._position = { offset: next.offset - 1, epoch: pos.epoch };
        }
        for (const m of held) this.onMessage(m);
      },
    );
  }

  /** Delivers the stored messages between the position and `next`, page by page. */
  private async fetchGap(pos: Position, next: Message<T>, generation: number): Promise<void> {
    for (;;) {
      const from = this._position?.offset ?? pos.offset;
      const missing = next.offset - from - 1;
      if (missing <= 0) return;
      const page = await this.host.history<T>(this.channel, { since: from, before: next.offset, limit: Math.min(1000, missing) });
      if (generation !== this.generation || this._state === 'unsubscribed') return;
      if (page.epoch !== pos.epoch || page.messages.length === 0) return;
      for (const m of page.messages) {
        const cur = this._position?.offset ?? pos.offset;
        if (m.offset <= cur || m.offset >= next.offset) continue;
        if (m.offset > cur + 1) this.emit('gap', { channel: this.channel, from: cur + 1, to: m.offset - 1 });
        this._position = { offset: m.offset, epoch: pos.epoch };
        const message: Message<T> = { channel: this.channel, data: m.data, offset: m.offset, ts: m.ts, epoch: pos.epoch };
        if (m.from) message.from = m.from;
        if (m.tags) message.tags = m.tags;
        this.emit('message', message);
      }
      if ((this._position?.offset ?? pos.offset) === from) return; // no progress: give up
    }
  }
}
