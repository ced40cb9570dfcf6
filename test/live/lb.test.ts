/**
 * Live: the generated hosts-platform load balancers keep serving while app instances die, drain and
 * come back. Each LB is the bundle's own config started with its unit's ExecStart (in a private
 * mount namespace), on 127.0.0.20; the app instances are stand-ins on 127.0.0.21-23.
 * Bounded load: wrk, 2 threads, 32 connections, 5-10 s per run; about 90 s in all.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';
import {
  LAB,
  LB_KINDS,
  configuredRiseMs,
  drainScenario,
  fmt,
  generateLabBundle,
  killScenario,
  request,
  startBackends,
  startGeneratedLb,
  throughput,
  type Backend,
  type LbKind,
  type RunningLb,
  type WrkResult,
} from './harness/lb.js';

const tools = skipUnlessTool(['nginx', 'haproxy', 'caddy', 'wrk', 'unshare', 'setpriv', 'mount'], 'live load-balancer tests');
const isRoot = process.getuid?.() === 0;
if (!tools.skip && !isRoot) {
  if (process.env.HA_GEN_REQUIRE_TOOLS === '1') throw new Error('live load-balancer tests need root (unshare -m, bind mounts)');
  console.warn('\n*** live load-balancer tests: SKIPPED because they need root (unshare -m and bind mounts) ***\n');
}

describe.skipIf(tools.skip || !isRoot)('live: load balancers survive a dying backend', { timeout: 240_000 }, () => {
  let work = '';
  let backends: Backend[] = [];
  let lb: RunningLb | null = null;
  let direct: WrkResult | null = null;
  const bundles = new Map<LbKind, string>();
  const summary: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-lb-live-'));
    for (const kind of LB_KINDS) bundles.set(kind, await generateLabBundle(ROOT, kind, path.join(work, kind)));
    backends = startBackends(2500);
    for (const b of backends) await b.start();
  });

  afterAll(async () => {
    await lb?.stop();
    for (const b of backends) await b.stop();
    if (summary.length) console.log(`\nLoad balancers under wrk -t2 -c32:\n${summary.join('\n')}\n`);
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  for (const kind of LB_KINDS) {
    it(`${kind}: kill -9, draining and recovery under load lose no request`, async () => {
      const bundle = bundles.get(kind)!;
      const cfgPath = { nginx: 'etc/nginx/nginx.conf', haproxy: 'etc/haproxy/haproxy.cfg', caddy: 'etc/caddy/Caddyfile' }[kind];
      const config = await fs.readFile(path.join(bundle, 'hosts/lb1', cfgPath), 'utf8');
      for (const b of backends) if (!b.proc?.running) await b.start();
      lb = await startGeneratedLb(kind, bundle, path.join(work, kind, 'run'));
      try {
        // Headers and bodies reach the app.
        const echo = await request(`${lb.url}/echo`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
        expect(echo.status).toBe(200);
        const seen = (JSON.parse(echo.body) as { headers: Record<string, string> }).headers;
        expect(seen['x-forwarded-for']).toMatch(/127\.0\.0\.1$/);
        expect(seen['x-forwarded-proto']).toBe('http');
        expect(seen['x-real-ip']).toBe('127.0.0.1');
        expect(seen.host).toBe(`${LAB.lb}:${LAB.httpPort}`);
        const limit = 8 * 1024 * 1024;
        const small = await request(`${lb.url}/upload`, { method: 'POST', body: Buffer.alloc(limit - 64 * 1024, 120), timeoutMs: 15_000 });
        expect(small.status).toBe(200);
        expect(small.headers['x-received']).toBe(String(limit - 64 * 1024));
        const big = await request(`${lb.url}/upload`, { method: 'POST', body: Buffer.alloc(limit + 64 * 1024, 120), timeoutMs: 15_000, expectContinue: true }).catch((e: Error) => ({ status: -1, body: e.message, headers: {} }));
        expect(big.status, big.body).toBe(413);

        const victim = backends[1]!;
        const kill = await killScenario(lb, victim);
        const riseMs = configuredRiseMs(kind, config);
        const drain = await drainScenario(lb, backends[2]!);
        // Overhead: the same load through the LB and straight to one backend, back to back.
        const through = await throughput(`${lb.url}/`, 4);
        direct = await throughput(`http://${backends[0]!.address}/`, 4);

        const line = [
          `${kind.padEnd(8)} kill -9: ${kill.wrk.failed} failed of ${kill.wrk.requests}`,
          `eject ${kind === 'nginx' ? `n/a (passive; dead backend tried first by ${kill.deadAttempts} requests, each retried)` : fmt(kill.ejectMs, ' ms')}`,
          `back in ${fmt(kill.recoveryMs, ' ms')} (configured ${riseMs} ms)`,
          `| drain: ${drain.wrk.failed} failed of ${drain.wrk.requests} (instance exited after ${drain.drainedMs} ms)`,
          `| ${fmt(through.rps)} req/s through the LB vs ${fmt(direct.rps)} direct to one backend (${(through.rps / direct.rps).toFixed(2)})`,
          `| max latency ${fmt(kill.wrk.latencyMaxMs, ' ms')}`,
        ].join(', ');
        summary.push(line);
        console.log(line);

        // kill -9: no failed request; HAProxy and Caddy take the dead instance out within 1 s.
        expect(kill.wrk.non2xx, kill.wrk.raw).toBe(0);
        expect(kill.wrk.socketErrors, kill.wrk.raw).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
        if (kind !== 'nginx') {
          expect(kill.ejectMs, `${kind} never marked the dead backend down`).not.toBeNull();
          expect(kill.ejectMs!).toBeLessThanOrEqual(1000);
        }
        // It gets traffic again within the configured rise time (plus one check's worth of slack).
        expect(kill.recoveryMs, `${kind} never sent traffic to the revived backend`).not.toBeNull();
        expect(kill.recoveryMs!).toBeLessThanOrEqual(riseMs + 1000);
        // Draining: no failed request.
        expect(drain.wrk.failed, drain.wrk.raw).toBe(0);
        expect(drain.recoveryMs).not.toBeNull();
        expect(through.failed).toBe(0);
        expect(through.rps).toBeGreaterThan(0);
      } finally {
        await lb.stop();
        lb = null;
      }
    });
  }
});
