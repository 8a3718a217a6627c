/**
 * A small typed event emitter. `on()` returns a function that removes the listener, so React
 * effects and RxJS teardown logic can use it directly.
 */
export type Unsubscribe = () => void;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (arg: any) => void;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<AnyListener>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: (arg: Events[K]) => void): Unsubscribe {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Adds a listener called at most once. */
  once<K extends keyof Events>(event: K, listener: (arg: Events[K]) => void): Unsubscribe {
    const off = this.on(event, (arg) => {
      off();
      listener(arg);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: (arg: Events[K]) => void): void {
    this.listeners.get(event)?.delete(listener);
  }

  /** How many listeners an event has (0 when none). */
  listenerCount<K extends keyof Events>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  /**
   * Calls the listeners of `event`. A listener that throws does not stop the others nor break
   * the client's state: the exception is rethrown asynchronously, where the host reports it
   * (window.onerror, Node's uncaughtException).
   */
  protected emit<K extends keyof Events>(event: K, arg: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        listener(arg);
      } catch (err) {
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }
}
