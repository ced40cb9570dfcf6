#!/usr/bin/env node
// The whole-host test's database writer, run ON an app host. It connects exactly as the app does:
// DATABASE_URL from the app's EnvironmentFile (the app host's own database endpoint), one session
// kept open as an app's connection pool keeps one, and a new session after any failure. One INSERT
// of a numbered row at a time, the next INTERVAL_MS after the previous one ended, each bounded by
// TIMEOUT_MS (the session is then dropped: the insert counts as not acknowledged). An insert is
// acknowledged when its COMMIT returned (psql echoes "ok ID" only after the INSERT succeeded; with
// ON_ERROR_STOP it exits instead). Prints one JSON line per insert: {id, s, e, ok, err?}.
// Usage: DATABASE_URL=... node writer.mjs TABLE FIRST_ID INTERVAL_MS TIMEOUT_MS DURATION_MS
import { spawn } from 'node:child_process';

const [table, firstText, intervalText = '100', timeoutText = '3000', durationText = '10000'] = process.argv.slice(2);
const url = process.env.DATABASE_URL;
if (!url || !/^[a-z_]+$/.test(table ?? '')) {
  console.error('usage: DATABASE_URL=... node writer.mjs TABLE FIRST_ID INTERVAL_MS TIMEOUT_MS DURATION_MS');
  process.exit(2);
}
const end = Date.now() + Number(durationText);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

let session = null;
function open() {
  const c = spawn('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', url], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, LANG: 'C.UTF-8', PGCONNECT_TIMEOUT: '2' },
    detached: true,
  });
  const s = { c, buf: '', err: '', waiter: null, alive: true };
  c.stdin.on('error', () => {});
  c.stdout.setEncoding('utf8').on('data', (d) => {
    s.buf += d;
    let i;
    while ((i = s.buf.indexOf('\n')) >= 0) {
      const line = s.buf.slice(0, i).trim();
      s.buf = s.buf.slice(i + 1);
      if (s.waiter) s.waiter(line);
    }
  });
  c.stderr.setEncoding('utf8').on('data', (d) => (s.err += d));
  c.on('close', () => {
    s.alive = false;
    if (session === s) session = null;
    if (s.waiter) s.waiter(null);
  });
  return s;
}

function drop(s) {
  s.alive = false;
  if (session === s) session = null;
  try {
    process.kill(-s.c.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

function insert(id) {
  return new Promise((resolve) => {
    const started = Date.now();
    session ??= open();
    const s = session;
    const timer = setTimeout(() => {
      s.waiter = null;
      drop(s);
      resolve({ id, s: started, e: Date.now(), ok: false, err: `timeout after ${timeoutText} ms` });
    }, Number(timeoutText));
    s.waiter = (line) => {
      if (line === null) {
        clearTimeout(timer);
        s.waiter = null;
        resolve({ id, s: started, e: Date.now(), ok: false, err: (s.err.trim().split('\n').at(-1) || 'session ended').slice(0, 200) });
      } else if (line === `ok ${id}`) {
        clearTimeout(timer);
        s.waiter = null;
        resolve({ id, s: started, e: Date.now(), ok: true });
      }
    };
    s.c.stdin.write(`INSERT INTO ${table}(id) VALUES (${id});\n\\echo ok ${id}\n`);
  });
}

let id = Number(firstText);
while (Date.now() < end) {
  out(await insert(id++));
  await new Promise((r) => setTimeout(r, Number(intervalText)));
}
if (session) {
  session.c.stdin.end();
  await new Promise((r) => setTimeout(r, 200));
  if (session) drop(session);
}
out({ done: true });
