#!/usr/bin/env node
// Who accepts writes, seen from inside one database host (so a partitioned or frozen member is
// still asked, by itself): every EVERY_MS, pg_is_in_recovery() over the local socket (one
// persistent psql as postgres, peer auth; a fresh one when an answer takes over 3 s) and the
// member's Patroni REST /primary (200 only while it holds the leader key; 2 s timeout). Prints
// {t: asked, a: answered, rec: true|false|null, pri: status|null} per sample.
// Usage (as postgres): node poller.mjs REST_URL SOCKET_DIR PORT EVERY_MS [CA_FILE]
// (an https REST_URL is verified against CA_FILE: Patroni's REST API on hosts is TLS)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const [restUrl, socketDir, port, everyText = '200', caFile] = process.argv.slice(2);
const ca = caFile ? fs.readFileSync(caFile) : undefined;
const every = Number(everyText);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

let psql = null;
let waiting = null;
let buf = '';
function startPsql() {
  const c = spawn('psql', ['-X', '-q', '-A', '-t', '-h', socketDir, '-p', port, '-d', 'postgres'], { stdio: ['pipe', 'pipe', 'ignore'], env: { PATH: process.env.PATH, LANG: 'C.UTF-8', PGCONNECT_TIMEOUT: '1' } });
  c.stdin.on('error', () => {});
  c.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      const m = /^R:(true|false)$/.exec(line);
      if (m && waiting) {
        const w = waiting;
        waiting = null;
        w(m[1] === 'true');
      }
    }
  });
  c.on('exit', () => {
    if (psql === c) psql = null;
    if (waiting) {
      const w = waiting;
      waiting = null;
      w(null);
    }
  });
  psql = c;
}

function recovery() {
  return new Promise((resolve) => {
    if (!psql) startPsql();
    const c = psql;
    const timer = setTimeout(() => {
      // no answer (a stuck or restarting server): ask a fresh psql next time
      waiting = null;
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
      resolve(null);
    }, 3000);
    waiting = (v) => {
      clearTimeout(timer);
      resolve(v);
    };
    c.stdin.write("SELECT 'R:' || pg_is_in_recovery()::text;\n");
  });
}

function primary() {
  return new Promise((resolve) => {
    const req = (restUrl.startsWith('https:') ? https : http).get(`${restUrl}/primary`, { agent: false, timeout: 2000, ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

for (;;) {
  const t0 = Date.now();
  const [rec, pri] = await Promise.all([recovery(), primary()]);
  out({ t: t0, a: Date.now(), rec, pri });
  await new Promise((r) => setTimeout(r, Math.max(0, every - (Date.now() - t0))));
}
