#!/usr/bin/env node
// Steady HTTP load for the whole-host test, run ON a lab host (the client): one GET every
// INTERVAL_MS on a new connection (agent: false, as a fresh client), each with its own TIMEOUT_MS,
// for DURATION_MS; never more than MAX_INFLIGHT at once (bounded). Prints one JSON line per
// request: {s: start ms, e: end ms, ok, st?: status, err?}, then {done: true}.
// Usage: node load.mjs URL INTERVAL_MS TIMEOUT_MS DURATION_MS
import http from 'node:http';

const [url, intervalText = '20', timeoutText = '500', durationText = '10000'] = process.argv.slice(2);
const intervalMs = Number(intervalText);
const timeoutMs = Number(timeoutText);
const end = Date.now() + Number(durationText);
const maxInflight = Math.ceil(timeoutMs / intervalMs) + 5;
let inflight = 0;
let pending = 0;
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

function one() {
  const s = Date.now();
  inflight++;
  pending++;
  let settled = false;
  const done = (r) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    inflight--;
    out({ s, e: Date.now(), ...r });
    if (--pending === 0 && Date.now() >= end) finish();
  };
  const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
    res.resume();
    res.on('end', () => done({ ok: res.statusCode === 200, st: res.statusCode }));
    res.on('error', (e) => done({ ok: false, err: e.code ?? e.message }));
  });
  const timer = setTimeout(() => {
    req.destroy();
    done({ ok: false, err: 'timeout' });
  }, timeoutMs);
  req.on('error', (e) => done({ ok: false, err: e.code ?? e.message }));
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  out({ done: true });
  process.exit(0);
}

// A fixed schedule: request n starts at t0 + n * interval (a late tick does not shift the rest).
const t0 = Date.now();
let n = 0;
function tick() {
  if (Date.now() >= end) {
    if (pending === 0) finish();
    setTimeout(finish, timeoutMs + 1000).unref();
    return;
  }
  if (inflight < maxInflight) one();
  else out({ s: Date.now(), e: Date.now(), ok: false, err: 'client-limit' });
  n++;
  setTimeout(tick, Math.max(0, t0 + n * intervalMs - Date.now()));
}
tick();
