// What every browser test needs: a chromium launched the way this closed machine requires, the
// server's URL, HTTP calls to its API, and waiting for conditions (never fixed sleeps).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseUrl } from './server-ctl.mjs';

export { baseUrl, startServer, stopServer } from './server-ctl.mjs';

// One browser (a persistent context on a fresh profile) per test file; pages are its tabs.
export async function launchBrowser() {
  const profile = mkdtempSync(join(process.env.SB_WORK ?? tmpdir(), 'chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // Without these, chromium waits on network services this machine does not have.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  const errors = [];
  context.on('page', (page) => watchPage(page, errors));
  for (const page of context.pages()) watchPage(page, errors);
  return {
    context,
    errors,  // uncaught page errors and CSP violations, which every test checks at the end
    async newPage(path) {
      const page = await context.newPage();
      if (path) await page.goto(baseUrl() + path);
      return page;
    },
    // Screenshots of the pages still open go to the run's work dir, which run.sh keeps only when
    // something failed.
    async close(testName) {
      if (testName) await screenshots(context, testName);
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

function watchPage(page, errors) {
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) errors.push(`csp: ${m.text()}`);
  });
}

// Screenshots of every open page, kept in the run's work dir to look at after a failure.
export async function screenshots(context, name) {
  const dir = join(process.env.SB_WORK ?? tmpdir(), 'screenshots');
  mkdirSync(dir, { recursive: true });
  let i = 0;
  for (const page of context.pages()) {
    await page.screenshot({ path: join(dir, `${name.replace(/\W+/g, '_')}-${i++}.png`), fullPage: true }).catch(() => {});
  }
}

// Polls `probe` until it returns a truthy value and returns that value; fails after `timeout` ms
// with `what` and the last value seen.
export async function waitFor(what, probe, { timeout = 10_000, interval = 25 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

export async function api(method, path, body) {
  const r = await fetch(baseUrl() + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

export const publish = (channel, data) => api('POST', '/api/publish', { channel, data });
export const stats = () => api('GET', '/api/stats');

// A name no other test uses, so that tests never see each other's channels.
export function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

// The text of every element matching `selector`.
export function texts(page, selector) {
  return page.locator(selector).allTextContents();
}
