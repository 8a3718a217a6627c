/**
 * Seed 001 (CHRONODIL, Next.js chat rooms): history on join, typing indicators, presence,
 * auto-reconnect. Replaces the custom server.ts + WebSocketManager (rooms, AUTHENTICATE,
 * JOIN_CONVERSATION, SEND_MESSAGE, TYPING_START/STOP, PING) and the use-websocket-chat hook with
 * its 5 reconnect attempts.
 *
 * Server config: [namespaces.conv] client_publish = true, history_size = 1000, presence = true,
 * join_leave = true.
 */
import { useState, type ChangeEvent } from 'react';
import { SwitchboardProvider, useChannel, usePresence, useSwitchboard, useTyping } from 'switchboard-react';

interface ChatMessage {
  id: string;
  senderId: string;
  senderName: string;
  content: string;
}

/** `getToken` fetches a JWT signed by the Next.js backend (sub = user id, info = {name}). */
export function ChatApp({ getToken, me }: { getToken: () => Promise<string>; me: { id: string; name: string } }) {
  return (
    // The token is sent in `connect` and verified by the server ([auth] jwt_secret); a fresh one
    // is fetched before each reconnection and when the server asks for a refresh.
    <SwitchboardProvider url="wss://chat.example.com/ws" options={{ getToken, reconnect: { maxDelay: 10000 } }}>
      <ChatPage conversationId="conversation-123" me={me} />
    </SwitchboardProvider>
  );
}

export function ChatPage({ conversationId, me }: { conversationId: string; me: { id: string; name: string } }) {
  const channel = `conv:${conversationId}`;
  const { isConnected } = useSwitchboard();
  // Joining = subscribing; the last 50 messages come from history; messages missed while
  // reconnecting are replayed in order; the list is reloaded if the server could not replay them.
  const { messages, publish } = useChannel<ChatMessage>(channel, { history: 50 });
  const { typers, touch, stop } = useTyping(channel); // renewed every 2 s while typing
  const { members } = usePresence(channel);
  const [draft, setDraft] = useState('');

  const onChange = (e: ChangeEvent<HTMLInputElement>) => {
    setDraft(e.target.value);
    touch(); // stops by itself 3 s after the last keystroke
  };
  const onSend = async () => {
    if (!draft.trim()) return;
    stop();
    setDraft('');
    await publish({ id: crypto.randomUUID(), senderId: me.id, senderName: me.name, content: draft });
  };

  return (
    <div>
      <header>
        {isConnected ? '●' : '○'} {members.length} online
      </header>
      <div className="messages">
        {messages.map((m) => (
          <div key={m.offset}>
            <strong>{m.data.senderName}:</strong> {m.data.content}
          </div>
        ))}
      </div>
      {typers.length > 0 && <em>{typers.map((t) => t.user).join(', ')} est en train de taper...</em>}
      <input value={draft} onChange={onChange} placeholder="Type a message..." />
      <button onClick={() => void onSend()}>Send</button>
    </div>
  );
}
