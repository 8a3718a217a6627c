/**
 * Seed 003 (GatheRing, FastAPI agent dashboard fed by an event bus): the ConnectionManager,
 * /ws/dashboard endpoint, setup_websocket_broadcasting() and the hand-written useWebSocket hook
 * (no reconnect, lastEvent only) go away.
 *
 * Backend: the event bus forwards each Event with `POST /api/publish` into `events:dashboard`
 * (or `events:circle-<id>` to filter by circle), see docs/clients.md.
 * Server config: [namespaces.events] history_size = 500 (the dashboard shows the last 50 on
 * load and gets what it missed during a reconnect); client_publish stays false: only the
 * backend publishes.
 */
import { SwitchboardProvider, useChannel, useSwitchboard } from 'switchboard-react';

interface BusEvent {
  type: string; // "agent.started", "task.completed", ...
  data: Record<string, unknown>;
  source_agent_id?: number | null;
  circle_id?: number | null;
  event_id: string;
  timestamp: string;
}

export function Dashboard() {
  return (
    <SwitchboardProvider url="ws://localhost:8080/ws">
      <LiveEvents />
    </SwitchboardProvider>
  );
}

function LiveEvents() {
  const { state } = useSwitchboard();
  const { messages } = useChannel<BusEvent>('events:dashboard', { history: 50, limit: 50 });
  return (
    <div>
      <h1>GatheRing Dashboard</h1>
      <div className={`status ${state}`}>{state === 'connected' ? '🟢 Connected' : '🔴 Reconnecting...'}</div>
      <h2>Live Events</h2>
      {messages
        .slice()
        .reverse()
        .map((m) => (
          <div key={m.offset} className="event">
            <div className="event-type">{m.data.type}</div>
            <pre className="event-data">{JSON.stringify(m.data.data, null, 2)}</pre>
            <div className="event-time">{m.data.timestamp}</div>
          </div>
        ))}
    </div>
  );
}
