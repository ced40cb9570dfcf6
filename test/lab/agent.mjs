// A lab host's client agent: the test runner cannot reach lab addresses itself (its own `lo` owns
// all of 127.0.0.0/8), so it asks this agent, which runs *on* a lab host, to make the request from
// there. Listens on a UNIX socket (argv[2]); one JSON request per POST, one JSON answer:
//   POST /http {url, method?, headers?, body?, timeoutMs, ca?, cert?, key?}  -> {ok, status?, body?, error?, ms}
//     (https: the server is verified against the CA file `ca` read on this host; cert/key: a client certificate)
//   POST /tcp  {host, port, timeoutMs}                       -> {ok, error?, ms}
// `ms` is measured here, on the host, from just before the connection to the answer or failure.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

const socketPath = process.argv[2];
if (!socketPath) {
  console.error('usage: agent.mjs SOCKET');
  process.exit(2);
}
try {
  fs.unlinkSync(socketPath);
} catch {
  /* none */
}

function httpProbe(q) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let settled = false;
    const done = (r) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const headers = { connection: 'close', ...(q.headers ?? {}) };
    const body = q.body === undefined ? undefined : Buffer.from(String(q.body));
    if (body) headers['content-length'] = String(body.length);
    let tls = {};
    try {
      const read = (f) => (f ? fs.readFileSync(f) : undefined);
      tls = { ca: read(q.ca), cert: read(q.cert), key: read(q.key) };
    } catch (e) {
      return resolve({ ok: false, error: e.code ?? e.message, ms: performance.now() - t0 });
    }
    const mod = q.url.startsWith('https:') ? https : http;
    const req = mod.request(q.url, { method: q.method ?? 'GET', headers, agent: false, ...(mod === https ? tls : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d));
      res.on('end', () => done({ ok: true, status: res.statusCode, body: text }));
      res.on('error', (e) => done({ ok: false, error: e.code ?? e.message }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, error: 'timeout' });
    }, q.timeoutMs ?? 2000);
    req.on('error', (e) => done({ ok: false, error: e.code ?? e.message }));
    req.end(body);
  });
}

function tcpProbe(q) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect({ host: q.host, port: q.port });
    let settled = false;
    const done = (r) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => done({ ok: false, error: 'timeout' }), q.timeoutMs ?? 2000);
    s.on('connect', () => done({ ok: true }));
    s.on('error', (e) => done({ ok: false, error: e.code ?? e.message }));
  });
}

const server = http.createServer(async (req, res) => {
  let text = '';
  req.setEncoding('utf8');
  for await (const c of req) text += c;
  let answer;
  try {
    const q = JSON.parse(text || '{}');
    if (req.url === '/http') answer = await httpProbe(q);
    else if (req.url === '/tcp') answer = await tcpProbe(q);
    else answer = { ok: false, error: `unknown ${req.url}` };
  } catch (e) {
    answer = { ok: false, error: `agent: ${e?.message ?? e}` };
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(answer));
});
server.keepAliveTimeout = 60_000;
server.listen(socketPath, () => console.log(`agent listening on ${socketPath}`));
