/**
 * The container lab's helpers: running commands against the lab engine, generating a bundle with the
 * built CLI as a user does, docker-compose on it, waiting for health, and a bounded HTTP load that
 * counts every failed request.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import http from 'node:http';
import * as path from 'node:path';
import { BIN } from '../../helpers/cli.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface RunResult {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a program with DOCKER_HOST of the lab; never throws for a non-zero exit (see must()). */
export function run(argv: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['VITEST', 'VITEST_WORKER_ID', 'VITEST_POOL_ID', 'FORCE_COLOR']) delete env[k];
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const c = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const t = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    c.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
    c.stdin.end(opts.input ?? '');
  });
}

export async function must(argv: string[], opts: Parameters<typeof run>[1] = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}:\n${r.out.slice(-4000)}\n${r.err.slice(-4000)}`);
  return r.out;
}

export const docker = (args: string[], opts: Parameters<typeof run>[1] = {}) => must(['docker', ...args], opts);

/** Polls until fn returns a truthy value, or throws after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs: number, everyMs = 500): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/** Writes ha-gen.yaml into dir and runs `ha-gen generate` there (the built bin), as a user would. */
export async function generateBundle(dir: string, specYaml: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'ha-gen.yaml'), specYaml);
  await must([process.execPath, BIN, 'generate', '--config', 'ha-gen.yaml', '--out', 'ha-bundle'], { cwd: dir, timeoutMs: 60_000 });
  return path.join(dir, 'ha-bundle');
}

/**
 * The compose command the bundle's own scripts pick: `docker compose` when the v2 plugin answers,
 * else `docker-compose` (v1, Debian 12's package).
 */
let composeArgv: string[] | null = null;
export async function composeCommand(): Promise<string[]> {
  if (!composeArgv) composeArgv = (await run(['docker', 'compose', 'version'])).code === 0 ? ['docker', 'compose'] : ['docker-compose'];
  return composeArgv;
}

export async function compose(bundle: string, args: string[], opts: { env?: Record<string, string | undefined>; timeoutMs?: number; files?: string[] } = {}): Promise<string> {
  const files = (opts.files ?? []).flatMap((f) => ['-f', f]);
  return must([...(await composeCommand()), ...files, ...args], { cwd: bundle, env: opts.env, timeoutMs: opts.timeoutMs ?? 300_000 });
}

/** Health (or state) of a container. */
export async function containerHealth(id: string): Promise<string> {
  const r = await run(['docker', 'inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}', id]);
  return r.code === 0 ? r.out.trim() : 'missing';
}

/** `compose up -d --wait` for compose v1, which has no --wait: every listed service running and healthy (when it has a check). */
export async function waitServicesHealthy(bundle: string, services: string[], timeoutMs: number, files: string[] = []): Promise<number> {
  const t0 = Date.now();
  await waitFor(
    `services ${services.join(', ')} healthy`,
    async () => {
      for (const s of services) {
        const id = (await compose(bundle, ['ps', '-q', s], { files })).trim();
        if (!id) return false;
        const h = await containerHealth(id);
        if (h === 'unhealthy' || h === 'exited' || h === 'dead') throw new Error(`${s} is ${h}:\n${(await run(['docker', 'logs', '--tail', '40', id])).err}`);
        if (h !== 'healthy' && h !== 'running') return false;
      }
      return true;
    },
    timeoutMs,
    1000,
  );
  return (Date.now() - t0) / 1000;
}

// ---- HTTP ---------------------------------------------------------------------------------------------

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function get(url: string, opts: { method?: string; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 5000, () => req.destroy(new Error(`timeout ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

export interface LoadResult {
  requests: number;
  ok: number;
  failed: number;
  /** status code or error code -> count */
  failures: Record<string, number>;
  /** Failure times (ms since the load started), the first 20. */
  failureTimes: number[];
  /**
   * Requests whose reused keep-alive connection was closed by the server before any answer
   * (ECONNRESET on req.reusedSocket), sent again once on a new connection as browsers and curl do
   * (RFC 9112 9.3.1); they count as failed only if the second try fails too.
   */
  retriedOnReusedConnection: number;
  /** Which app version answered (X-Standin header), count per version. */
  versions: Record<string, number>;
  seconds: number;
  rps: number;
}

/**
 * Bounded load: `connections` keep-alive clients send GET url back to back until `durationS` is over
 * or `maxRequests` were sent; a request that gets no 2xx within 2 s counts as failed.
 */
export class Load {
  private stopAt: number;
  private done: Promise<LoadResult>;
  private startedAt = Date.now();

  constructor(url: string, opts: { durationS: number; connections?: number; maxRequests?: number }) {
    this.stopAt = this.startedAt + opts.durationS * 1000;
    const maxRequests = opts.maxRequests ?? 200_000;
    const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections ?? 16 });
    const r: LoadResult = { requests: 0, ok: 0, failed: 0, failures: {}, failureTimes: [], retriedOnReusedConnection: 0, versions: {}, seconds: 0, rps: 0 };
    const fail = (why: string) => {
      r.failed++;
      r.failures[why] = (r.failures[why] ?? 0) + 1;
      if (r.failureTimes.length < 20) r.failureTimes.push(Date.now() - this.startedAt);
    };
    const one = (retry = true): Promise<void> =>
      new Promise<void>((resolve) => {
        // The retry goes on a connection of its own (agent: false), as the RFC and browsers do: a pooled
        // one may be the next idle connection the reloading LB is closing.
        const req = http.get(url, { agent: retry ? agent : false }, (res) => {
          res.resume();
          res.on('end', () => {
            if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) {
              r.ok++;
              const v = String(res.headers['x-standin'] ?? '').split(' ')[1] ?? '?';
              r.versions[v] = (r.versions[v] ?? 0) + 1;
            } else fail(String(res.statusCode));
            resolve();
          });
          res.on('error', (e) => {
            fail((e as NodeJS.ErrnoException).code ?? 'error');
            resolve();
          });
        });
        req.setTimeout(2000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
        req.on('error', (e) => {
          const code = (e as NodeJS.ErrnoException).code ?? 'error';
          if (retry && req.reusedSocket && code === 'ECONNRESET') {
            r.retriedOnReusedConnection++;
            void one(false).then(resolve);
            return;
          }
          fail(code);
          resolve();
        });
      });
    const worker = async () => {
      while (Date.now() < this.stopAt && r.requests < maxRequests) {
        r.requests++;
        await one();
      }
    };
    this.done = Promise.all(Array.from({ length: opts.connections ?? 16 }, worker)).then(() => {
      agent.destroy();
      r.seconds = (Date.now() - this.startedAt) / 1000;
      r.rps = r.requests / r.seconds;
      return r;
    });
  }

  /** Ends the load early (at most the in-flight requests finish). */
  stop(): Promise<LoadResult> {
    this.stopAt = 0;
    return this.done;
  }

  result(): Promise<LoadResult> {
    return this.done;
  }
}

export const describeLoad = (r: LoadResult) =>
  `${r.requests} requests in ${r.seconds.toFixed(1)} s (${Math.round(r.rps)}/s), ${r.failed} failed${r.failed ? ` ${JSON.stringify(r.failures)} at ${r.failureTimes.map((t) => (t / 1000).toFixed(1)).join(',')} s` : ''}${r.retriedOnReusedConnection ? `, ${r.retriedOnReusedConnection} sent again after a reused keep-alive connection was closed` : ''}, versions ${JSON.stringify(r.versions)}`;

/** Figures printed at the end of a test file, and collected for the report. */
export class Figures {
  lines: string[] = [];
  constructor(readonly title: string) {}
  add(line: string): void {
    this.lines.push(line);
    console.log(`[containers] ${this.title}: ${line}`);
  }
  print(): void {
    if (this.lines.length) console.log(`\n${this.title}:\n  ${this.lines.join('\n  ')}\n`);
  }
}

/**
 * The bundle's patroni/Dockerfile with its PyPI step replaced by Debian's Patroni (same version; PyPI
 * is not reachable from the lab). Everything else (pgBackRest, USER, HEALTHCHECK, ENTRYPOINT) as generated.
 */
export function labPatroniDockerfile(text: string): string {
  const pip = /^ && \/opt\/patroni\/bin\/pip install --no-cache-dir "patroni\[etcd\]==\$\{PATRONI_VERSION\}" \\$/m;
  if (!pip.test(text)) throw new Error(`patroni/Dockerfile: the pip install step changed; update labPatroniDockerfile():\n${text}`);
  return text.replace(pip, ' && apt-get install -y --no-install-recommends patroni python3-etcd \\\n && ln -sf /usr/bin/patroni /usr/bin/patronictl /opt/patroni/bin/ \\');
}


export interface WritesThroughKill {
  /** Seconds from the kill to the end of the first acknowledged write after the first failure (0: none failed). */
  resumedS: number;
  acked: number;
  /** Acknowledged writes whose rows the app no longer returns. */
  lost: number[];
  failed: number;
}

/**
 * A writer through the app (POST /write?id=N every 100 ms, each acknowledged id remembered) while
 * `kill` runs 3 s in; waits until writes resume, then reads /rows back: what a failover cost.
 */
export async function writesThroughKill(lbUrl: string, kill: () => Promise<void>, o: { runMs: number; resumeTimeoutMs: number }): Promise<WritesThroughKill> {
  const acked: number[] = [];
  const attempts: Array<{ start: number; end: number; ok: boolean }> = [];
  let next = 1000;
  let stopAt = Date.now() + o.runMs;
  const writer = (async () => {
    while (Date.now() < stopAt) {
      const id = next++;
      const start = Date.now();
      const x = await get(`${lbUrl}/write?id=${id}`, { method: 'POST', timeoutMs: 5000 }).catch(() => null);
      attempts.push({ start, end: Date.now(), ok: x?.status === 200 });
      if (x?.status === 200) acked.push(id);
      await sleep(100);
    }
  })();
  await sleep(3000);
  const killedAt = Date.now();
  await kill();
  // writes resume: the first success that started after the first failure after the kill
  const firstFailAfter = () => attempts.filter((a) => a.start >= killedAt);
  await waitFor('writes to resume after the kill', async () => {
    const after = firstFailAfter();
    const firstFail = after.findIndex((a) => !a.ok);
    return firstFail >= 0 ? after.slice(firstFail).some((a) => a.ok) : after.filter((a) => a.ok).length > 20;
  }, o.resumeTimeoutMs, 200);
  await sleep(3000);
  stopAt = 0;
  await writer;
  const after = firstFailAfter();
  const firstFail = after.findIndex((a) => !a.ok);
  const resumedS = firstFail < 0 ? 0 : (after.slice(firstFail).find((a) => a.ok)!.end - killedAt) / 1000;
  const rows = await waitFor('rows through the app', async () => {
    const x = await get(`${lbUrl}/rows`).catch(() => null);
    return x && x.status === 200 ? new Set(JSON.parse(x.body) as number[]) : null;
  }, 30_000);
  return { resumedS, acked: acked.length, lost: acked.filter((id) => !rows.has(id)), failed: attempts.filter((a) => !a.ok).length };
}
