import { Emitter, type Unsubscribe } from '../emitter.js';
import type { SwitchboardError } from '../errors.js';
import type { Switchboard } from '../client.js';
import type { Subscription } from '../subscription.js';

export interface TypingOptions {
  /**
   * While started, `typing: true` is sent again this often (ms, default 2000). The server ends
   * an indicator that is not renewed within `limits.typing_timeout` (5 s by default).
   */
  renewInterval?: number;
  /** `touch()` stops the indicator after this long without another `touch()` (ms, default 3000). */
  idleTimeout?: number;
}

/** Someone else typing in the channel. */
export interface Typer {
  client: string;
  user: string;
}

export interface TypingEvents {
  /** The list of others typing changed. */
  change: Typer[];
  error: SwitchboardError;
}

/**
 * Typing indicators of one channel, both ways: `start()`/`stop()`/`touch()` for this client, and
 * `typers` (+ the `change` event) for the others. Holds a reference on the channel's
 * subscription (the server relays typing only between subscribers) until `dispose()`.
 *
 * ```ts
 * const typing = sb.typing('chat:room-1');
 * input.addEventListener('input', () => typing.touch()); // stops 3 s after the last keystroke
 * form.addEventListener('submit', () => typing.stop());
 * typing.on('change', (typers) => show(typers.map((t) => t.user)));
 * ```
 */
export class TypingHandle extends Emitter<TypingEvents> {
  readonly channel: string;
  private readonly sub: Subscription;
  private readonly renewInterval: number;
  private readonly idleTimeout: number;
  private readonly offs: Unsubscribe[] = [];
  private readonly others = new Map<string, Typer>();
  private _active = false;
  private disposed = false;
  private renewTimer: ReturnType<typeof setInterval> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly client: Switchboard,
    channel: string,
    options: TypingOptions = {},
  ) {
    super();
    this.channel = channel;
    this.renewInterval = options.renewInterval ?? 2000;
    this.idleTimeout = options.idleTimeout ?? 3000;
    this.sub = client.subscribe(channel);
    this.offs.push(
      this.sub.on('typing', (e) => {
        if (e.typing) this.others.set(e.client, { client: e.client, user: e.user });
        else if (!this.others.delete(e.client)) return;
        this.emit('change', this.typers);
      }),
      // Whoever left the channel stopped typing (the server also says so, unless we missed it).
      this.sub.on('leave', (e) => {
        if (this.others.delete(e.client)) this.emit('change', this.typers);
      }),
      // After a reconnect the indicator is sent again (the server forgot it with the old connection).
      this.sub.on('subscribed', () => {
        if (this._active) this.send(true);
      }),
      client.on('disconnected', () => {
        if (this.others.size === 0) return;
        this.others.clear();
        this.emit('change', []);
      }),
    );
  }

  /** Whether this client's indicator is on. */
  get active(): boolean {
    return this._active;
  }

  /** The others typing now. */
  get typers(): Typer[] {
    return [...this.others.values()];
  }

  /** Turns the indicator on and keeps renewing it until `stop()`. */
  start(): void {
    if (this.disposed || this._active) return;
    this._active = true;
    this.send(true);
    this.renewTimer = setInterval(() => this.send(true), this.renewInterval);
  }

  /** Turns the indicator off. */
  stop(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (!this._active) return;
    this._active = false;
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    this.send(false);
  }

  /** For keystrokes: starts the indicator and stops it after `idleTimeout` ms without another call. */
  touch(): void {
    this.start();
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop(), this.idleTimeout);
  }

  /** Stops the indicator and releases the subscription. */
  dispose(): void {
    if (this.disposed) return;
    this.stop();
    this.disposed = true;
    this.offs.forEach((off) => off());
    this.sub.unsubscribe();
  }

  private send(typing: boolean): void {
    // Not connected or not subscribed yet: nothing to renew; the `subscribed` listener resends.
    if (!this.client.isConnected || this.sub.state !== 'subscribed') return;
    this.client.request({ type: 'typing', channel: this.channel, typing }).catch((err: SwitchboardError) => {
      if (err.code !== 'DISCONNECTED' && err.code !== 'CLOSED') this.emit('error', err);
    });
  }
}
