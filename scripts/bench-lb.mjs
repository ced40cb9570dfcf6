#!/usr/bin/env node
// Benchmark: what a kill -9 of one app instance costs under load, per load balancer, with
// ha-gen's generated configs and with the HA guide's example configs (../shared/seeds/
// high-availability.md, "Load Balancing"), side by side. Needs root (mount namespaces), nginx,
// haproxy, caddy and wrk; uses 127.0.0.20-23 only. About 2 minutes.
//
//   npm run bench:lb            (or: node scripts/bench-lb.mjs [--seconds 15] [--only haproxy])
//
// The guide's configs are changed only as needed to run here: loopback addresses and ports, no TLS
// (the guide's HTTPS frontend becomes plain HTTP), no `daemon`, an /lb-health answer for start-up,
// and an observation point (HAProxy stats socket, Caddy admin address, nginx access log format).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 15) || 15;
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;

if (process.getuid?.() !== 0) {
  console.error('bench-lb: needs root (unshare -m and bind mounts for the generated hosts configs)');
  process.exit(2);
}
for (const tool of ['nginx', 'haproxy', 'caddy', 'wrk', 'unshare']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`bench-lb: ${tool} is not installed`);
    process.exit(2);
  }
}
if (spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { stdio: 'inherit' }).status !== 0) process.exit(1);

// The lab harness is TypeScript shared with test/live/lb.test.ts: bundle it for plain node.
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-bench-lb-'));
const harnessJs = path.join(work, 'harness.mjs');
await build({ entryPoints: [path.join(root, 'test/live/harness/lb.ts')], bundle: true, platform: 'node', format: 'esm', outfile: harnessJs, logLevel: 'error' });
await fs.copyFile(path.join(root, 'test/live/harness/lb-backend.mjs'), path.join(work, 'lb-backend.mjs'));
const H = await import(pathToFileURL(harnessJs).href);
const { LAB, Proc, Backend, generateLabBundle, startGeneratedLb, killScenario, haproxyEjectedAt, caddyEjectedAt, request, fmt, sleep } = H;

const upstreams = LAB.backends.map((h) => `${h}:${LAB.appPort}`);

/** The guide's configs, adapted to the lab as described at the top. */
const GUIDE = {
  nginx: (dir) => `worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
    log_format ha_gen '$remote_addr [$time_local] "$request" $status upstream=$upstream_addr upstream_status=$upstream_status';
    access_log ${dir}/access.log ha_gen;
    upstream home_registry_backend {
        least_conn;  # Route to server with fewer connections
${upstreams.map((u) => `        server ${u} max_fails=3 fail_timeout=30s weight=1;`).join('\n')}
        keepalive 32;
    }
    server {
        listen ${LAB.lb}:${LAB.httpPort};
        location = /lb-health { return 200 "ok\\n"; }
        location / {
            proxy_pass http://home_registry_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries 2;
            proxy_next_upstream_timeout 10s;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    }
}
`,
  haproxy: (dir) => `global
    maxconn 4096
    log /dev/log local0
    chroot /var/lib/haproxy
    user haproxy
    group haproxy
    stats socket ${dir}/admin.sock mode 600 level admin

defaults
    log global
    mode http
    option httplog
    option dontlognull
    timeout connect 5000ms
    timeout client 50000ms
    timeout server 50000ms
    retry-on all-retryable-errors
    retries 3

frontend http_front
    bind ${LAB.lb}:${LAB.httpPort}
    http-request return status 200 content-type text/plain string ok if { path /lb-health }
    default_backend home_registry_backend

backend home_registry_backend
    balance leastconn  # or roundrobin, source (IP hash)
    option httpchk GET /health
    http-check expect status 200

${upstreams.map((u, i) => `    server app${i + 1} ${u} check inter 10s fall 3 rise 2`).join('\n')}
`,
  caddy: (dir) => `{
	admin ${LAB.lb}:2019
	log upstream {
		output file ${dir}/upstream.log
		format json
		level DEBUG
		include http.handlers.reverse_proxy
	}
}
http://${LAB.lb}:${LAB.httpPort} {
	bind ${LAB.lb}
	handle /lb-health {
		respond "ok" 200
	}
	reverse_proxy {
		lb_policy least_conn  # or round_robin, random, ip_hash

${upstreams.map((u) => `		to ${u}`).join('\n')}

		health_uri /health
		health_port ${LAB.appPort}
		health_interval 30s
		health_timeout 5s
		health_status 200

		fail_duration 30s
		max_fails 3

		header_up X-Real-IP {remote_host}
		header_up X-Forwarded-For {remote_host}
		header_up X-Forwarded-Proto {scheme}
	}
}
`,
};

async function startGuideLb(kind) {
  const dir = path.join(work, `guide-${kind}`);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, { nginx: 'nginx.conf', haproxy: 'haproxy.cfg', caddy: 'Caddyfile' }[kind]);
  await fs.writeFile(file, GUIDE[kind](dir));
  const argv = {
    nginx: ['nginx', '-p', `${dir}/`, '-c', file, '-g', 'daemon off;'],
    haproxy: ['haproxy', '-W', '-db', '-f', file],
    caddy: ['caddy', 'run', '--config', file, '--adapter', 'caddyfile'],
  }[kind];
  const proc = new Proc(`guide ${kind}`, argv, { env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
  const url = `http://${LAB.lb}:${LAB.httpPort}`;
  const end = Date.now() + 10_000;
  for (;;) {
    if (!proc.running) throw new Error(`guide ${kind} exited: ${proc.err}`);
    const ok = await request(`${url}/lb-health`, { timeoutMs: 500 }).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > end) throw new Error(`guide ${kind} did not start: ${proc.err}`);
    await sleep(50);
  }
  const base = { kind, label: `${kind} (guide)`, url, proc, stop: () => proc.stop(kind === 'nginx' ? 'SIGQUIT' : 'SIGTERM', 5000) };
  if (kind === 'haproxy') return { ...base, ejectedAt: (b, since, until) => haproxyEjectedAt(path.join(dir, 'admin.sock'), 'home_registry_backend', b, since, until) };
  if (kind === 'caddy') return { ...base, ejectedAt: (b, since, until) => caddyEjectedAt({ adminUrl: `http://${LAB.lb}:2019`, logFile: path.join(dir, 'upstream.log') }, b, since, until) };
  return {
    ...base,
    ejectedAt: async () => null,
    deadBackendAttempts: async (b, since) => {
      const log = await fs.readFile(path.join(dir, 'access.log'), 'utf8').catch(() => '');
      return log.split('\n').filter((l) => l.includes(`upstream=${b.address}, `)).length;
    },
  };
}

const backends = LAB.backends.map((h) => new Backend(h, LAB.appPort, LAB.healthPath, 2500, path.join(work, 'lb-backend.mjs')));
const rows = [];
const cleanup = async () => {
  for (const b of backends) await b.stop();
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

try {
  for (const b of backends) await b.start();
  const killAtMs = 3000;
  const reviveAtMs = (seconds - 2) * 1000;
  for (const kind of ['nginx', 'haproxy', 'caddy'].filter((k) => !only || k === only)) {
    const bundle = await generateLabBundle(root, kind, path.join(work, kind));
    for (const which of ['guide', 'ha-gen']) {
      for (const b of backends) if (!b.proc?.running) await b.start();
      const lb = which === 'guide' ? await startGuideLb(kind) : await startGeneratedLb(kind, bundle, path.join(work, kind, 'run'));
      try {
        const r = await killScenario(lb, backends[1], { durationS: seconds, killAtMs, reviveAtMs });
        const eject = kind === 'nginx' ? `passive (${r.deadAttempts} requests tried it first)` : r.ejectMs === null ? `> ${((reviveAtMs - killAtMs) / 1000).toFixed(0)} s (never, until revived)` : `${fmt(r.ejectMs)} ms`;
        rows.push([lb.label, String(r.wrk.failed), `${r.wrk.non2xx} non-2xx, ${Object.values(r.wrk.socketErrors).reduce((a, b) => a + b, 0)} socket errors`, eject, `${fmt(r.wrk.rps)}`, fmt(r.wrk.latencyMaxMs, ' ms')]);
        console.log(`${lb.label}: ${r.wrk.failed} failed of ${r.wrk.requests}; time to eject: ${eject}`);
      } finally {
        await lb.stop();
      }
    }
  }
} finally {
  await cleanup();
  await fs.rm(work, { recursive: true, force: true });
}

const head = ['config', 'failed requests', 'of which', 'dead backend out of rotation after', 'req/s', 'max latency'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`\nkill -9 of one of 3 backends 3 s into ${seconds} s of wrk -t2 -c32 (2 s timeout); revived at ${seconds - 2} s\n`);
console.log(line(head));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
rows.forEach((r) => console.log(line(r)));
console.log('\nNote: HAProxy starts each server with health = rise, so a freshly started LB drops a server after one failed');
console.log('check; a long-running guide HAProxy needs fall 3 x inter 10s (20-30 s). Each LB here ran ~3 s before the kill.');
