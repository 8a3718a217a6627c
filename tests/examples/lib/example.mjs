// Starts one example of examples/ for a test file: the real server with the example's own
// switchboard.toml (ports moved to free ones, a fresh data dir) through the browser harness's
// server-ctl, and the example's real backend as a child process. Screenshots go to docs/examples/
// with UPDATE_SCREENSHOTS=1.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startServer, stopServer, waitFor } from '../../browser/lib/harness.mjs';

export const root = new URL('../../../', import.meta.url).pathname;

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tomlString(toml, key) {
  const m = toml.match(new RegExp(`^${key}\\s*=\\s*\\[?\\s*"([^"]*)"`, 'm'));
  return m ? m[1] : '';
}

/**
 * Starts examples/<name>: its server config with the backend's port 3000 replaced by a free one,
 * then the backend with `env`: `node backend/server.mjs`, or `command` (e.g. a Python backend,
 * `['/usr/bin/python3', 'backend/app.py']`, relative to the example). Returns the URLs, the API key
 * and a stop function.
 */
export async function startExample(name, env = {}, { command = [process.execPath, 'backend/server.mjs'] } = {}) {
  const work = join(process.env.SB_WORK, name);
  mkdirSync(join(work, 'data'), { recursive: true });
  const [sbPort, backendPort] = [await freePort(), await freePort()];
  const toml = readFileSync(join(root, 'examples', name, 'switchboard.toml'), 'utf8');
  writeFileSync(join(work, 'switchboard.toml'), toml.replace(/^data_dir.*$/m, '').replaceAll(':3000', `:${backendPort}`));
  Object.assign(process.env, {
    SB_PORT: String(sbPort), SB_CONFIG: join(work, 'switchboard.toml'), SB_DATA_DIR: join(work, 'data'),
    SB_PIDFILE: join(work, 'server.pid'), SB_LOG: join(work, 'server.log'),
  });
  await startServer();

  const sbUrl = `http://127.0.0.1:${sbPort}`;
  const backendUrl = `http://127.0.0.1:${backendPort}`;
  const apiKey = tomlString(toml, 'api_keys');
  const log = openSync(join(work, 'backend.log'), 'a');
  const [program, ...args] = command;
  const backend = spawn(program, args.map((a) => (a.startsWith('backend/') ? join(root, 'examples', name, a) : a)), {
    env: { ...process.env, PORT: String(backendPort), SWITCHBOARD_URL: sbUrl, SWITCHBOARD_API_KEY: apiKey,
      CANCEL_SECRET: tomlString(toml, 'cancel_secret'), ...env },
    stdio: ['ignore', log, log],
  });
  writeFileSync(join(work, 'backend.pid'), String(backend.pid));
  let exited = null;
  backend.on('exit', (code, signal) => { exited = { code, signal }; });
  await waitFor(`the ${name} backend on ${backendUrl}`, async () => {
    if (exited) throw new Error(`the backend exited: ${JSON.stringify(exited)}; see ${join(work, 'backend.log')}`);
    return (await fetch(`${backendUrl}/api/config`)).ok;
  });
  return {
    sbUrl, backendUrl, apiKey, work,
    async stop() {
      backend.kill();
      await stopServer();
    },
  };
}

/**
 * A small PNG of the page. It replaces docs/examples/<name>.png only when UPDATE_SCREENSHOTS=1, so
 * that running the tests leaves the checkout clean; otherwise it lands in the test's work folder.
 */
export async function screenshot(page, name) {
  const dir = process.env.UPDATE_SCREENSHOTS === '1' ? join(root, 'docs', 'examples') : process.env.SB_WORK;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

/** GET or send JSON to the example's backend; returns {status, body}. */
export async function backend(example, method, path, body) {
  const r = await fetch(example.backendUrl + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}
