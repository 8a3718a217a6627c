/**
 * The hooks against a real server, rendered in jsdom (its WebSocket is the one the client uses).
 */
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { StrictMode, useEffect } from 'react';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SwitchboardProvider, useChannel, usePresence, useStream, useSwitchboard, useTyping } from '../src/index.js';
import { TestServer } from '../../js/test/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start();
});
afterEach(() => cleanup());
afterAll(async () => {
  await server.stop();
});

type Chat = { text: string };

function Room({ channel, user }: { channel: string; user: string }) {
  const { state } = useSwitchboard();
  const { messages, publish } = useChannel<Chat>(channel, { history: 10 });
  const { users } = usePresence(channel);
  const { typers, start } = useTyping(channel);
  const { latest } = useStream(channel);
  useEffect(() => {
    if (user === 'bob' && state === 'connected') start();
  }, [user, state, start]);
  return (
    <div data-testid={user}>
      <p>state:{state}</p>
      <ul>
        {messages.map((m) => (
          <li key={m.offset}>
            {m.offset}:{m.data.text}
          </li>
        ))}
      </ul>
      <p>users:{users.slice().sort().join(',')}</p>
      <p>typing:{typers.map((t) => t.user).join(',')}</p>
      <p>stream:{latest ? `${latest.text}|${latest.done ? latest.reason : 'running'}` : ''}</p>
      <button onClick={() => void publish({ text: `from ${user}` })}>send-{user}</button>
    </div>
  );
}

describe('switchboard-react', () => {
  it('shows history on join, live messages, presence, typing and a stream', async () => {
    const channel = 'chat:react';
    await server.publish(channel, { text: 'before' });
    render(
      <StrictMode>
        <SwitchboardProvider url={server.wsUrl} options={{ user: 'alice' }}>
          <Room channel={channel} user="alice" />
        </SwitchboardProvider>
        <SwitchboardProvider url={server.wsUrl} options={{ user: 'bob' }}>
          <Room channel={channel} user="bob" />
        </SwitchboardProvider>
      </StrictMode>,
    );
    const alice = () => screen.getByTestId('alice').textContent ?? '';
    const bob = () => screen.getByTestId('bob').textContent ?? '';
    await waitFor(() => expect(alice()).toContain('state:connected'));
    await waitFor(() => expect(alice()).toContain('1:before'));
    await waitFor(() => expect(alice()).toContain('users:alice,bob'));
    await waitFor(() => expect(alice()).toContain('typing:bob'));

    await act(async () => {
      screen.getByText('send-bob').click();
    });
    await waitFor(() => expect(alice()).toContain('2:from bob'));
    await waitFor(() => expect(bob()).toContain('2:from bob'));
    expect(alice().match(/2:from bob/g)).toHaveLength(1);

    const id = await server.startStream(channel);
    await server.append(id, 'Hel');
    await server.append(id, 'lo');
    await waitFor(() => expect(alice()).toContain('stream:Hello|running'));
    await server.endStream(id);
    await waitFor(() => expect(alice()).toContain('stream:Hello|done'));
  });
});
