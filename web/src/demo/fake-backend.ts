// The "backend" half of the streamed-answer demo: a pretend LLM that sends its answer token by
// token through the server's stream API (POST /api/streams, /append, /end).
//
// DEV ONLY. A real application makes these calls from its backend, with an API key, because the
// HTTP API can publish anywhere. This page may make them only because a server without API keys
// answers the HTTP API from loopback, to a page opened under a loopback name
// (docs/http-api.md#authentication).
import { ApiError, HttpApi } from '../common/api';

export type ProducerState = 'idle' | 'running' | 'finished' | 'stopped' | 'error';

export interface FakeAnswerOptions {
  tokenMs: number;
  onState: (state: ProducerState, detail?: string) => void;
  onStarted?: (stream: string) => void;
}

const ANSWER =
  'Switchboard streams an answer in three calls. The backend starts a stream on a channel, ' +
  'appends each token as the model produces it, and ends the stream when the model is done. ' +
  'Every reader gets the tokens in order, and one who arrives late first gets the text so far. ' +
  'A reader may cancel: the stream ends at once and the backend is told, so it stops paying for ' +
  'tokens. The whole text is then kept in the channel as one message.';

export function answerFor(prompt: string): string[] {
  const intro = prompt.trim() ? `You asked: “${prompt.trim()}” ` : '';
  // Tokens keep their leading space, as an LLM's do.
  return (intro + ANSWER).match(/\s*\S+/g) ?? [];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Streams the canned answer to `channel`. Resolves when the stream is over: finished (ended with
// "done"), stopped (the server no longer knows the stream: a reader cancelled it, or it timed
// out), or error.
export async function streamFakeAnswer(api: HttpApi, channel: string, prompt: string, opts: FakeAnswerOptions): Promise<ProducerState> {
  let stream: string;
  try {
    stream = (await api.startStream(channel, { prompt, model: 'demo-echo' })).stream;
  } catch (e) {
    const err = e as ApiError;
    const why = err.status === 401 || err.status === 403
      ? `the HTTP API refused this page (${err.status}): the demo backend works only on loopback (opened from localhost) with no API key configured`
      : `${err.code}: ${err.message}`;
    opts.onState('error', why);
    return 'error';
  }
  opts.onStarted?.(stream);
  opts.onState('running');
  for (const token of answerFor(prompt)) {
    await sleep(opts.tokenMs);
    try {
      await api.appendStream(stream, token);
    } catch (e) {
      const err = e as ApiError;
      if (err.status === 404 || err.code === 'NOT_FOUND') {
        opts.onState('stopped', 'the stream was ended by the server (cancelled by a reader, or timed out)');
        return 'stopped';
      }
      opts.onState('error', `${err.code}: ${err.message}`);
      return 'error';
    }
  }
  try {
    await api.endStream(stream, 'done');
  } catch (e) {
    const err = e as ApiError;
    if (err.status === 404 || err.code === 'NOT_FOUND') {
      opts.onState('stopped', 'the stream was ended by the server before the last call');
      return 'stopped';
    }
    opts.onState('error', `${err.code}: ${err.message}`);
    return 'error';
  }
  opts.onState('finished');
  return 'finished';
}
