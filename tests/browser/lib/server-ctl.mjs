// Starts and stops the switchboard server under test. run.sh starts it through this file, and the
// reconnect test kills and restarts it the same way: one command line, in one place.
//
// Environment (set by run.sh): SB_BIN, SB_CONFIG, SB_DATA_DIR, SB_PORT, SB_PIDFILE, SB_LOG.
import { spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests through tests/browser/run.sh`);
  return v;
}

export function baseUrl() {
  return `http://127.0.0.1:${env('SB_PORT')}`;
}

async function healthy() {
  try {
    const r = await fetch(`${baseUrl()}/healthz`);
    return r.ok;
  } catch {
    return false;
  }
}

// Starts the server and resolves once /healthz answers (15 s at most).
export async function startServer() {
  const log = openSync(env('SB_LOG'), 'a');
  const child = spawn(env('SB_BIN'), [
    'serve', '--config', env('SB_CONFIG'), '--listen', `127.0.0.1:${env('SB_PORT')}`,
    '--data-dir', env('SB_DATA_DIR'), '--threads', '1',
  ], { detached: true, stdio: ['ignore', log, log] });
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  writeFileSync(env('SB_PIDFILE'), String(child.pid));
  child.unref();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`switchboard exited at startup (${JSON.stringify(exited)}); see ${env('SB_LOG')}`);
    if (await healthy()) return child.pid;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`switchboard did not answer /healthz within 15 s; see ${env('SB_LOG')}`);
}

function pid() {
  try {
    return Number(readFileSync(env('SB_PIDFILE'), 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function alive(p) {
  try {
    process.kill(p, 0);
    return true;
  } catch {
    return false;
  }
}

// Sends `signal` to the server and resolves once the process is gone (10 s at most).
export async function stopServer(signal = 'SIGTERM') {
  const p = pid();
  if (!p || !alive(p)) return;
  process.kill(p, signal);
  const deadline = Date.now() + 10_000;
  while (alive(p)) {
    if (Date.now() > deadline) throw new Error(`switchboard (pid ${p}) still running 10 s after ${signal}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const command = process.argv[2];
  if (command === 'start') console.log(`switchboard pid ${await startServer()} on ${baseUrl()}`);
  else if (command === 'stop') await stopServer();
  else {
    console.error('usage: node lib/server-ctl.mjs start|stop');
    process.exit(2);
  }
}
