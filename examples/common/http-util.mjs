// The few HTTP helpers a framework would give, shared by the examples' backends: JSON in and out,
// errors in Switchboard's shape
// ({error: {code, message, retryable}}), and the built page from dist/.
import { readFile } from 'node:fs/promises';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.svg': 'image/svg+xml' };

export function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function sendError(res, status, code, message, retryable) {
  send(res, status, { error: { code, message, retryable } });
}

export async function readJson(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw Object.assign(new Error('body too large'), { status: 413 });
  }
  try {
    return body ? JSON.parse(body) : {};
  } catch {
    throw Object.assign(new Error('malformed JSON body'), { status: 400 });
  }
}

export async function serveStatic(root, pathname, res) {
  const path = pathname === '/' ? 'index.html' : pathname.slice(1);
  if (path.includes('..') || path.includes('//')) return sendError(res, 404, 'NOT_FOUND', 'no such file', false);
  try {
    const body = await readFile(new URL(path, root));
    res.writeHead(200, { 'Content-Type': TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream', 'Cache-Control': 'no-cache' });
    res.end(body);
  } catch {
    sendError(res, 404, 'NOT_FOUND', `no such file: /${path} (build the page: ./run.sh build)`, false);
  }
}
