/**
 * React bindings for switchboard-client.
 *
 * ```tsx
 * <SwitchboardProvider url="wss://rt.example.com/ws" options={{ user: session.userId }}>
 *   <Room id="room-1" />
 * </SwitchboardProvider>
 *
 * function Room({ id }: { id: string }) {
 *   const { messages, publish } = useChannel<Chat>(`chat:${id}`, { history: 50 });
 *   const { typers, touch, stop } = useTyping(`chat:${id}`);
 *   ...
 * }
 * ```
 */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from 'react';
import {
  Switchboard,
  type ConnectionState,
  type Member,
  type Message,
  type PublishResult,
  type ResetEvent,
  type StreamState,
  type StreamTracker,
  type StreamTrackerOptions,
  type Subscription,
  type SubscriptionState,
  type SwitchboardError,
  type SwitchboardOptions,
  type Typer,
  type TypingHandle,
  type TypingOptions,
} from 'switchboard-client';

const SwitchboardContext = createContext<Switchboard | null>(null);

export interface SwitchboardProviderProps {
  /** The server's WebSocket URL (ws://host:port/ws). Ignored when `client` is given. */
  url?: string;
  /** Client options; read once (remount the provider, e.g. with a `key`, to change them). */
  options?: SwitchboardOptions;
  /** Use an existing client instead (the provider then neither connects nor closes it). */
  client?: Switchboard;
  children?: ReactNode;
}

/**
 * Owns one Switchboard connection for the tree below it: connects on mount, closes on unmount.
 * Safe under StrictMode (a close followed by a connect reopens the same client, and the
 * subscriptions of the tree are kept).
 */
export function SwitchboardProvider({ url, options, client, children }: SwitchboardProviderProps) {
  const [own] = useState<Switchboard | null>(() => {
    if (client) return null;
    if (!url) throw new Error('SwitchboardProvider needs a url or a client');
    return new Switchboard(url, { ...options, autoConnect: false });
  });
  useEffect(() => {
    if (!own) return;
    own.connect();
    return () => own.close();
  }, [own]);
  return <SwitchboardContext.Provider value={client ?? own}>{children}</SwitchboardContext.Provider>;
}

/** The client of the nearest provider. */
export function useSwitchboardClient(): Switchboard {
  const client = useContext(SwitchboardContext);
  if (!client) throw new Error('switchboard-react: wrap your components in <SwitchboardProvider>');
  return client;
}

export interface SwitchboardStatus {
  client: Switchboard;
  /** connecting | connected | disconnected | closed (a "Live" / "Reconnecting..." badge). */
  state: ConnectionState;
  isConnected: boolean;
  /** Publishes waiting for the connection. */
  queueSize: number;
}

/** The client and its connection state, re-rendering on every state change. */
export function useSwitchboard(): SwitchboardStatus {
  const client = useSwitchboardClient();
  const state = useSyncExternalStore(
    (notify) => client.on('state', notify),
    () => client.state,
    () => client.state,
  );
  return { client, state, isConnected: state === 'connected', queueSize: client.queueSize };
}

export interface UseChannelOptions<T> {
  /** Load this many of the newest stored messages on join, and again after a reset (default 0). */
  history?: number;
  /** Keep at most this many messages, the newest (default 500). */
  limit?: number;
  /** Called for each live or recovered message. */
  onMessage?: (message: Message<T>) => void;
  /** Called when the server could not replay what was missed (the list is reloaded if `history`). */
  onReset?: (event: ResetEvent) => void;
  /** false: do not subscribe (yet). */
  enabled?: boolean;
}

export interface ChannelState<T> {
  /** Oldest first, each offset once. */
  messages: Message<T>[];
  publish: (data: T) => Promise<PublishResult>;
  status: SubscriptionState;
  error: SwitchboardError | null;
  subscription: Subscription<T> | null;
}

function merge<T>(prev: Message<T>[], add: Message<T>[], limit: number): Message<T>[] {
  const seen = new Set(prev.map((m) => `${m.epoch}:${m.offset}`));
  const out = prev.slice();
  let sorted = true;
  for (const m of add) {
    const key = `${m.epoch}:${m.offset}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const last = out[out.length - 1];
    if (last && last.epoch === m.epoch && last.offset > m.offset) sorted = false;
    out.push(m);
  }
  if (!sorted) {
    const rank = new Map<string, number>();
    for (const m of out) if (!rank.has(m.epoch)) rank.set(m.epoch, rank.size);
    out.sort((a, b) => rank.get(a.epoch)! - rank.get(b.epoch)! || a.offset - b.offset);
  }
  return out.length > limit ? out.slice(out.length - limit) : out;
}

/**
 * Subscribes to a channel for the component's lifetime and keeps its messages: recovered ones
 * after a reconnect arrive in order, once; `history: n` shows the last n on join (chat history).
 */
export function useChannel<T = unknown>(channel: string, options: UseChannelOptions<T> = {}): ChannelState<T> {
  const client = useSwitchboardClient();
  const [messages, setMessages] = useState<Message<T>[]>([]);
  const [status, setStatus] = useState<SubscriptionState>('pending');
  const [error, setError] = useState<SwitchboardError | null>(null);
  const [subscription, setSubscription] = useState<Subscription<T> | null>(null);
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const enabled = options.enabled !== false;

  useEffect(() => {
    if (!enabled || !channel) return;
    let active = true;
    let loads = 0;
    const sub = client.subscribe<T>(channel);
    const limit = () => optionsRef.current.limit ?? 500;
    setSubscription(sub);
    setMessages([]);
    setError(null);
    setStatus(sub.state);
    const loadHistory = (epoch?: string) => {
      const n = optionsRef.current.history ?? 0;
      if (n <= 0) return;
      const load = ++loads;
      sub.history({ limit: Math.min(n, 1000), reverse: true }).then(
        (page) => {
          if (!active || load !== loads) return;
          if (epoch !== undefined && page.epoch !== epoch) return; // reset again meanwhile
          const list: Message<T>[] = page.messages
            .slice()
            .reverse()
            .map((m) => ({ channel, data: m.data, offset: m.offset, ts: m.ts, epoch: page.epoch }));
          setMessages((prev) => merge(list, prev.filter((m) => m.epoch === page.epoch), limit()));
        },
        (err: SwitchboardError) => {
          if (active) setError(err);
        },
      );
    };
    const offs = [
      sub.on('message', (m) => {
        setMessages((prev) => merge(prev, [m], limit()));
        optionsRef.current.onMessage?.(m);
      }),
      sub.on('subscribed', (e) => {
        setStatus('subscribed');
        setError(null);
        if (!e.resubscribed) loadHistory();
      }),
      sub.on('reset', (e) => {
        setMessages((prev) => prev.filter((m) => m.epoch === e.epoch));
        optionsRef.current.onReset?.(e);
        loadHistory(e.epoch);
      }),
      sub.on('error', (e) => {
        setError(e);
        setStatus(sub.state);
      }),
      client.on('state', () => setStatus(sub.state)),
    ];
    if (sub.state === 'subscribed') loadHistory(); // shared with another component, already up
    return () => {
      active = false;
      offs.forEach((off) => off());
      sub.unsubscribe();
    };
  }, [client, channel, enabled]);

  const publish = useCallback((data: T) => client.publish(channel, data), [client, channel]);
  return { messages, publish, status, error, subscription };
}

export interface PresenceState {
  members: Member[];
  /** Distinct users. */
  users: string[];
  /** false while (re)loading. */
  synced: boolean;
  error: SwitchboardError | null;
}

/** The live member list of a channel with presence. */
export function usePresence(channel: string): PresenceState {
  const client = useSwitchboardClient();
  const [state, setState] = useState<PresenceState>({ members: [], users: [], synced: false, error: null });
  useEffect(() => {
    const tracker = client.presenceTracker(channel);
    const update = () =>
      setState((s) => ({ members: tracker.members, users: tracker.users, synced: tracker.synced, error: s.error }));
    const offs = [
      tracker.on('change', update),
      tracker.on('error', (error) => setState((s) => ({ ...s, error }))),
      client.on('state', update),
    ];
    update();
    return () => {
      offs.forEach((off) => off());
      tracker.dispose();
    };
  }, [client, channel]);
  return state;
}

export interface TypingState {
  /** The others typing now. */
  typers: Typer[];
  /** Whether this client's indicator is on. */
  active: boolean;
  /** Turns the indicator on, renewed until stop(). */
  start: () => void;
  stop: () => void;
  /** Call on each keystroke: on now, off after `idleTimeout` without another call. */
  touch: () => void;
}

/** Typing indicators of a channel: who else is typing, and this client's own indicator. */
export function useTyping(channel: string, options: TypingOptions = {}): TypingState {
  const client = useSwitchboardClient();
  const handle = useRef<TypingHandle | null>(null);
  const [typers, setTypers] = useState<Typer[]>([]);
  const [active, setActive] = useState(false);
  const { renewInterval, idleTimeout } = options;
  useEffect(() => {
    const opts: TypingOptions = {};
    if (renewInterval !== undefined) opts.renewInterval = renewInterval;
    if (idleTimeout !== undefined) opts.idleTimeout = idleTimeout;
    const h = client.typing(channel, opts);
    handle.current = h;
    setTypers(h.typers);
    const off = h.on('change', setTypers);
    return () => {
      off();
      h.dispose();
      if (handle.current === h) handle.current = null;
      setActive(false);
    };
  }, [client, channel, renewInterval, idleTimeout]);
  const start = useCallback(() => {
    handle.current?.start();
    setActive(true);
  }, []);
  const stop = useCallback(() => {
    handle.current?.stop();
    setActive(false);
  }, []);
  const touch = useCallback(() => {
    const h = handle.current;
    if (!h) return;
    h.touch();
    setActive(true);
    // Reflect the automatic stop.
    setTimeout(() => setActive(h.active), (idleTimeout ?? 3000) + 50);
  }, [idleTimeout]);
  return { typers, active, start, stop, touch };
}

export interface StreamsState {
  /** Known streams of the channel, oldest first. */
  streams: StreamState[];
  /** The running stream, if any. */
  current: StreamState | undefined;
  /** The latest stream, running or finished (what a chat shows as the answer being written). */
  latest: StreamState | undefined;
  /** Cancels a stream (default: the current one). */
  cancel: (id?: string) => Promise<void>;
}

/** Streams (AI answers) of a channel, assembled into text as they arrive. */
export function useStream(channel: string, options: Omit<StreamTrackerOptions, 'onStart' | 'onDelta' | 'onEnd'> = {}): StreamsState {
  const client = useSwitchboardClient();
  const tracker = useRef<StreamTracker | null>(null);
  const [streams, setStreams] = useState<StreamState[]>([]);
  const [current, setCurrent] = useState<StreamState | undefined>(undefined);
  const { keepFinished, resyncGrace } = options;
  useEffect(() => {
    const opts: StreamTrackerOptions = {};
    if (keepFinished !== undefined) opts.keepFinished = keepFinished;
    if (resyncGrace !== undefined) opts.resyncGrace = resyncGrace;
    const t = client.stream(channel, opts);
    tracker.current = t;
    const update = () => {
      setStreams(t.streams);
      setCurrent(t.current);
    };
    const offs = [t.on('start', update), t.on('delta', update), t.on('end', update)];
    update();
    return () => {
      offs.forEach((off) => off());
      t.dispose();
      if (tracker.current === t) tracker.current = null;
    };
  }, [client, channel, keepFinished, resyncGrace]);
  const cancel = useCallback(async (id?: string) => {
    await tracker.current?.cancel(id);
  }, []);
  return { streams, current, latest: streams[streams.length - 1], cancel };
}

export type { ConnectionState, Member, Message, StreamState, Typer, SwitchboardOptions };
