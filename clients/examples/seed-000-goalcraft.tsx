/**
 * Seed 000 (GoalCraftAI, Next.js): streamed AI answers. Replaces the dedicated WebSocket server on
 * port 3002, its POST /notify bridge, the AI_MESSAGE_START / CHUNK / END message types, the
 * client-side reconnect/backoff/offline-queue service and `stopGeneration`.
 *
 * Backend (Next.js API route, after n8n or OpenAI answers): one Switchboard stream per answer.
 * Frontend: `useStream` assembles the answer; `cancel()` is the "Stop" button; the server ends
 * the stream with reason "cancelled" and calls the backend's cancel webhook ([streams] cancel_url).
 */
import { useState } from 'react';
import { SwitchboardError } from 'switchboard-client';
import { useChannel, useStream, useSwitchboard } from 'switchboard-react';

// ---- backend: app/api/ai/chat/route.ts -------------------------------------------------------

const SB = process_env('SWITCHBOARD_HTTP', 'http://127.0.0.1:8080');
const KEY = process_env('SWITCHBOARD_API_KEY', '');

async function sb<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(SB + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(KEY ? { authorization: `Bearer ${KEY}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`switchboard ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Streams the model's chunks into `ai:<conversationId>`; the finished text is stored as one message. */
export async function streamAnswer(conversationId: string, chunks: AsyncIterable<string>): Promise<void> {
  const { stream } = await sb<{ stream: string }>('/api/streams', {
    channel: `ai:${conversationId}`,
    meta: { role: 'assistant' },
  });
  try {
    for await (const delta of chunks) {
      if (delta) await sb(`/api/streams/${stream}/append`, { delta });
    }
    await sb(`/api/streams/${stream}/end`, { reason: 'complete' });
  } catch (err) {
    // 404 NOT_FOUND on append: the user pressed Stop (the stream is already ended).
    if (!String(err).includes(' 404 ')) throw err;
  }
}

// ---- frontend: the chat panel --------------------------------------------------------------

interface UserMessage {
  role: 'user';
  content: string;
}

export function AIChat({ conversationId }: { conversationId: string }) {
  const channel = `ai:${conversationId}`;
  const { state, queueSize } = useSwitchboard();
  // The user's messages, plus the finished answers the server stores ({stream, text, reason}).
  const { messages, publish } = useChannel<UserMessage | { stream: string; text: string; reason: string }>(channel, {
    history: 100,
  });
  const { current, cancel } = useStream(channel);
  const [error, setError] = useState<string | null>(null);

  const send = async (content: string) => {
    try {
      // Offline: queued (in order, at most offlineQueueSize), sent after the reconnect.
      await publish({ role: 'user', content });
      await fetch('/api/ai/chat', { method: 'POST', body: JSON.stringify({ conversationId, content }) });
    } catch (err) {
      if (err instanceof SwitchboardError && err.retryable) setError(`${err.code}: will retry`);
      else setError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <div>
      <p>{state === 'connected' ? 'Live' : `Reconnecting... (${queueSize} queued)`}</p>
      {messages.map((m) =>
        'role' in m.data ? (
          <p key={m.offset}>You: {m.data.content}</p>
        ) : (
          <p key={m.offset}>
            AI: {m.data.text}
            {m.data.reason === 'cancelled' ? ' [Annulé]' : ''}
          </p>
        ),
      )}
      {current && (
        <>
          <p>AI: {current.text}</p>
          <button onClick={() => void cancel()}>Arrêter la génération</button>
        </>
      )}
      {error && <p role="alert">{error}</p>}
      <button onClick={() => void send('Apprendre le piano')}>Générer</button>
    </div>
  );
}

function process_env(name: string, fallback: string): string {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.[name] ?? fallback;
}
