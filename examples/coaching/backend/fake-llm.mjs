// A deterministic stand-in for the LLM (no model can be downloaded here): the same question always
// gets the same answer, token by token, with a pause before each token like a real model's
// streamed output. The tests import answerFor() to know the exact text each user must see.
import { setTimeout as sleep } from 'node:timers/promises';

const STEPS = [
  'write down why it matters to you',
  'pick one small action you can do today',
  'block twenty minutes in your calendar three times a week',
  'track each session in a notebook',
  'review your progress every Sunday and adjust',
  'celebrate the first milestone with someone you trust',
];

/** The full answer to `question`. */
export function answerFor(question) {
  const goal = question.trim().replace(/[.?!]+$/, '');
  // A stable choice of steps per question, so that answers differ but never change.
  let h = 2166136261;  // FNV-1a
  for (const c of goal) h = Math.imul(h ^ c.codePointAt(0), 16777619) >>> 0;
  const count = 3 + (h % 3);
  const first = (h >>> 8) % STEPS.length;
  const steps = Array.from({ length: count }, (_, i) => `${i + 1}. ${STEPS[(first + i) % STEPS.length]}.`);
  return `Great goal: "${goal}". Here is a plan in ${count} steps:\n${steps.join('\n')}\nStart small and keep going!`;
}

/** The answer as tokens: each word with the whitespace before it. */
export function tokensOf(text) {
  return text.match(/\s*\S+/g) ?? [];
}

/** Yields the tokens of the answer, `tokenMs` apart; stops at once when `signal` aborts. */
export async function* generate(question, { tokenMs = 60, signal } = {}) {
  for (const token of tokensOf(answerFor(question))) {
    await sleep(tokenMs, undefined, { signal });
    yield token;
  }
}
