// Driving the demo page as a person would: through its form fields and buttons.
import { waitFor, texts } from './harness.mjs';

export async function joinRoom(browser, name, room) {
  const page = await browser.newPage('/demo/');
  await page.locator('#name').fill(name);
  await page.locator('#room').fill(room);
  await page.locator('#join').click();
  await waitFor(`${name} connected`, async () => (await page.locator('#conn-state').getAttribute('data-state')) === 'connected');
  return page;
}

// The chat lines (not the system lines) as "user: text", in the order shown.
export async function chatLines(page) {
  return page.locator('#chat-messages li[data-offset]').evaluateAll((lis) =>
    lis.map((li) => `${li.querySelector('.who').textContent}: ${li.querySelector('.text').textContent}`));
}

export async function offsetsShown(page) {
  return page.locator('#chat-messages li[data-offset]').evaluateAll((lis) => lis.map((li) => Number(li.dataset.offset)));
}

export async function members(page) {
  return page.locator('#members li').evaluateAll((lis) => lis.map((li) => li.dataset.user).sort());
}

export async function say(page, text) {
  await page.locator('#message-input').fill(text);
  await page.locator('#send').click();
}

export { texts };
