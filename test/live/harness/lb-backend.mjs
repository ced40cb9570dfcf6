#!/usr/bin/env node
// A stand-in app instance for the load-balancer live tests: answers every path with 200, the
// health path with 200 (503 while draining), and behaves like a well-written app on SIGTERM:
//   1. /health starts failing at once, so active checks take the instance out of rotation;
//   2. it keeps serving for DRAIN_MS (the LB's check interval x fall, plus margin);
//   3. it stops accepting connections, closes idle keep-alive ones, finishes in-flight requests, exits.
// Usage: node lb-backend.mjs HOST PORT HEALTH_PATH [DRAIN_MS]
// GET|POST /slow?ms=N answers after N ms (requests in flight at a host fault).
// Reports on stdout, one JSON object a line: listening, first-request (first proxied request),
// draining, closed. GET /__count answers {"requests": n} (not counted) for the harness.
import http from 'node:http';

const [host, portText, healthPath = '/health', drainText = '2500'] = process.argv.slice(2);
const port = Number(portText);
const drainMs = Number(drainText);
const say = (event, extra = {}) => process.stdout.write(`${JSON.stringify({ event, t: Date.now(), ...extra })}\n`);

let draining = false;
let closing = false;
let requests = 0;
let inflight = 0;
const body = Buffer.from(`ok ${host}\n`);

const server = http.createServer((req, res) => {
  if (req.url === '/__count') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ requests, inflight, draining }));
    return;
  }
  if (req.url === healthPath) {
    res.writeHead(draining ? 503 : 200, { 'content-type': 'text/plain', ...(closing ? { connection: 'close' } : {}) });
    res.end(draining ? 'draining\n' : 'ok\n');
    return;
  }
  // /slow?ms=N: answers after N ms (GET) or N ms after the body (POST), so a test can have requests
  // in flight on an instance when its host loses power.
  const slow = /^\/slow\?ms=(\d+)$/.exec(req.url ?? '');
  if (slow) {
    const answer = () => setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': host });
      res.end(`slow ${req.method} ${host}\n`);
    }, Math.min(Number(slow[1]), 30_000));
    if (req.method === 'GET' || req.method === 'HEAD') answer();
    else {
      req.resume();
      req.on('end', answer);
    }
    return;
  }
  requests++;
  if (requests === 1) say('first-request', { url: req.url, xff: req.headers['x-forwarded-for'] ?? null });
  inflight++;
  res.on('close', () => inflight--);
  // Once closing, every response ends its connection so the LB opens new ones elsewhere.
  const headers = { 'content-type': 'text/plain', 'content-length': body.length, 'x-backend': host };
  if (closing) headers.connection = 'close';
  // Uploads: drain the body before answering (the LB must let app.maxBodySize through).
  if (req.method === 'POST' || req.method === 'PUT') {
    let received = 0;
    req.on('data', (c) => (received += c.length));
    req.on('end', () => {
      const { 'content-length': _omit, ...rest } = headers;
      res.writeHead(200, { ...rest, 'content-type': 'application/json', 'x-received': String(received) });
      res.end(JSON.stringify({ received, headers: req.headers }));
    });
    return;
  }
  if (req.url === '/echo') {
    res.writeHead(200, { 'content-type': 'application/json', 'x-backend': host });
    res.end(JSON.stringify({ headers: req.headers }));
    return;
  }
  res.writeHead(200, headers);
  res.end(body);
});
server.keepAliveTimeout = 65_000;

server.listen(port, host, () => say('listening', { host, port }));

process.on('SIGTERM', () => {
  if (draining) return;
  draining = true;
  say('draining');
  setTimeout(() => {
    closing = true;
    server.close(() => {
      say('closed', { requests });
      process.exit(0);
    });
    // Connections that go idle later (a response just finished) are closed too.
    server.closeIdleConnections();
    setInterval(() => server.closeIdleConnections(), 100).unref();
    // Anything still open after the grace period is cut (stop_grace_period in real deployments).
    setTimeout(() => process.exit(0), 10_000).unref();
  }, drainMs);
});
