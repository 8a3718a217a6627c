/**
 * Seed 002 (SoniqueBay): several logical channels (chat, playqueue, system, progress) on ONE
 * socket, with handlers per channel and automatic reconnection. That is what a Switchboard client
 * is: `CentralWebSocketService.register_handler(channel, fn)` / `send(channel, data)` map to
 * `subscribe(channel).on('message', fn)` / `publish(channel, data)`.
 *
 * SoniqueBay's front end is Python (NiceGUI): this TypeScript client serves its browser-side code;
 * the Python backend publishes with the HTTP API (see docs/clients.md, seed 002).
 * Server config: [namespaces.sb] client_publish = true (history_size for playqueue recovery).
 */
import { Switchboard, type Message } from 'switchboard-client';

type Handler<T = unknown> = (data: T, message: Message<T>) => void;

/** Drop-in for CentralWebSocketService, on one Switchboard connection. */
export class CentralWebSocketService {
  private readonly client: Switchboard;
  private readonly offs = new Map<string, Array<() => void>>();

  constructor(url = 'ws://api:8001/ws', user?: string) {
    this.client = new Switchboard(url, user ? { user } : {});
  }

  register_handler<T>(channel: string, handler: Handler<T>): () => void {
    const sub = this.client.subscribe<T>(`sb:${channel}`);
    const off = sub.on('message', (m) => handler(m.data, m));
    const list = this.offs.get(channel) ?? [];
    const release = () => {
      off();
      sub.unsubscribe();
    };
    list.push(release);
    this.offs.set(channel, list);
    return release;
  }

  send<T>(channel: string, data: T): Promise<unknown> {
    return this.client.publish(`sb:${channel}`, data);
  }

  get connected(): boolean {
    return this.client.isConnected;
  }

  close(): void {
    for (const list of this.offs.values()) list.forEach((release) => release());
    this.offs.clear();
    this.client.close();
  }
}

export function demo(): void {
  const ws = new CentralWebSocketService();
  ws.register_handler<{ message: string }>('chat', (d) => console.log('chat:', d.message));
  ws.register_handler<{ track: string }[]>('playqueue', (queue) => console.log('queue length', queue.length));
  ws.register_handler<{ task: string; percent: number }>('progress', (p) => console.log(p.task, p.percent));
  void ws.send('chat', { message: 'Hello!' });
}
