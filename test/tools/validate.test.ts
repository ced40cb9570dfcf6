/**
 * Real tools: every preset's bundle passes `ha-gen validate` (with HA_GEN_REQUIRE_TOOLS=1, so no
 * check may be skipped), and a deliberately broken file of each kind makes it exit 1 naming that
 * file, while every other file still passes.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { render } from '../../src/render/index.js';
import { PRESETS, presetSpec, presetYaml, type Preset } from '../helpers/presets.js';
import { cleanupTempDirs, ensureBuilt, runCli, tempDir } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';

/** Programs each kind of check runs (see src/validate/checkers.ts). */
const TOOL_BINS: Record<string, string[]> = {
  nginx: ['nginx', 'openssl', 'unshare'],
  haproxy: ['haproxy', 'openssl', 'unshare'],
  caddy: ['caddy', 'openssl', 'unshare'],
  compose: ['docker-compose'],
  stack: ['docker'],
  'pg-conf': ['postgres'],
  'pg-hba': ['postgres', 'initdb', 'pg_ctl', 'psql', 'openssl', ...(process.getuid?.() === 0 ? ['runuser'] : [])],
  sql: ['postgres', 'initdb', 'pg_ctl', 'psql', 'openssl', ...(process.getuid?.() === 0 ? ['runuser'] : [])],
  shell: ['shellcheck'],
  yaml: ['yamllint'],
  systemd: ['systemd-analyze'],
  patroni: ['patroni'],
  etcd: ['etcd'],
  pgbackrest: ['pgbackrest'],
  keepalived: ['keepalived', 'ip', 'unshare'],
  nft: ['nft', 'unshare'],
  'promtool-config': ['promtool'],
  'promtool-rules': ['promtool'],
  'promtool-test': ['promtool'],
  amtool: ['amtool'],
  blackbox: ['prometheus-blackbox-exporter'],
};

interface Breakage {
  kind: string;
  preset: string;
  /** Which file of that kind to break (default: the first one checked by `kind`). */
  pick?: RegExp;
  corrupt: (text: string) => string;
}

const replaceOnce = (re: RegExp, by: string) => (t: string) => {
  if (!re.test(t)) throw new Error(`corruption pattern ${re} not found`);
  return t.replace(re, by);
};

/** One deliberately broken file per kind of check; the corruption is one a user could make. */
const BREAKAGES: Breakage[] = [
  { kind: 'nginx', preset: 'compose-nginx-tls-files', corrupt: replaceOnce(/^http \{$/m, 'http {\n    bogus_directive on;') },
  { kind: 'compose', preset: 'compose-nginx-tls-files', corrupt: replaceOnce(/^(\s+)image:/m, '$1imagez:') },
  { kind: 'pg-conf', preset: 'compose-nginx-tls-files', corrupt: (t) => `${t}bogus_setting = 1\n` },
  { kind: 'sql', preset: 'compose-nginx-tls-files', corrupt: (t) => `${t}SELEC 1;\n` },
  { kind: 'shell', preset: 'compose-nginx-tls-files', pick: /10-app-role\.sh$/, corrupt: (t) => `${t}if true; then echo unterminated\n` },
  { kind: 'haproxy', preset: 'compose-haproxy-tls-files', corrupt: (t) => `${t}\nbackend broken\n    server x\n` },
  { kind: 'yaml', preset: 'compose-haproxy-tls-files', pick: /docker-compose\.yml$/, corrupt: replaceOnce(/^(\s+image: .*)$/m, '$1\n$1') },
  { kind: 'caddy', preset: 'compose-caddy-tls-none', corrupt: (t) => `${t}\n:8081 {\n\tbogus_directive\n}\n` },
  { kind: 'stack', preset: 'swarm-single-server', corrupt: replaceOnce(/^(\s+)deploy:\n/m, '$1deploy:\n$1  replicaz: 2\n') },
  { kind: 'pg-hba', preset: 'hosts-inventory', corrupt: (t) => `${t}hostt all all 10.0.0.0/8 scram-sha-256\n` },
  { kind: 'systemd', preset: 'hosts-inventory', pick: /-app\.service$/, corrupt: replaceOnce(/^\[Service\]$/m, '[Service]\nBogusKey=1') },
  // a unit stripped of its sandbox is rated UNSAFE by systemd-analyze security
  { kind: 'systemd', preset: 'hosts-multi-server-patroni', pick: /\/etcd\.service$/, corrupt: (t) => { const out = t.replace(/^(NoNewPrivileges|Protect\w+|Private\w+|Restrict\w+|LockPersonality|MemoryDenyWriteExecute|SystemCall\w+|CapabilityBoundingSet|DevicePolicy|DeviceAllow|ReadWritePaths)=.*\n/gm, ''); if (out === t) throw new Error('no sandbox to strip'); return out; } },
  { kind: 'keepalived', preset: 'hosts-multi-server-patroni', corrupt: replaceOnce(/virtual_router_id \d+/, 'virtual_router_id 300') },
  { kind: 'nft', preset: 'hosts-inventory', corrupt: replaceOnce(/tcp dport 22 /, 'tcp dport 99999 ') },
];

/** At most 2 bundles validate at once: each runs its own checks in parallel on a 2-core machine. */
let running = 0;
const queue: Array<() => void> = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => queue.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    queue.shift()?.();
  }
}

interface JsonResult {
  requireTools: boolean;
  passed: number;
  failed: number;
  skipped: number;
  results: Array<{ file: string; tool: string; status: string; message: string }>;
}

/** Parses the human output: one line per (file, check). */
function parseHuman(stdout: string): Array<{ status: string; tool: string; file: string }> {
  return [...stdout.matchAll(/^(✔ passed |✘ failed |- skipped) (\S+)\s+(\S+) \(\d+ ms\)$/gm)].map((m) => ({ status: m[1]!.trim().replace(/^\S+ /, ''), tool: m[2]!, file: m[3]! }));
}

function binsFor(p: Preset): { bins: string[]; error?: string } {
  try {
    const tools = new Set([...render(presetSpec(p), { version: 'x', specFile: 'ha-gen.yaml' }).files.values()].flatMap((f) => f.checks.map((c) => c.tool)));
    return { bins: [...new Set([...tools].flatMap((t) => TOOL_BINS[t] ?? []))].sort() };
  } catch (e) {
    return { bins: [], error: (e as Error).message };
  }
}

beforeAll(() => ensureBuilt());
afterAll(() => cleanupTempDirs());

describe.concurrent.each(PRESETS.map((p) => [p.id, p] as const))('real tools: %s', (id, p) => {
  const need = binsFor(p);
  const tools = skipUnlessTool(need.bins, `validate ${id}`);
  const breakages = BREAKAGES.filter((b) => b.preset === id);

  it.skipIf(tools.skip)(`validate passes with every tool required${breakages.length ? `, then fails naming each broken file (${breakages.map((b) => b.kind).join(', ')})` : ''}`, { timeout: 180_000 }, async () => {
    expect(need.error, 'the preset renders').toBeUndefined();
    const dir = await tempDir(`tools-${id}`);
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), presetYaml(p));
    const gen = await runCli(['generate'], { cwd: dir });
    expect(gen.code, gen.output).toBe(0);
    const bundle = path.join(dir, 'ha-bundle');
    const manifest = JSON.parse(await fs.readFile(path.join(bundle, '.ha-gen/manifest.json'), 'utf8')) as { files: Record<string, { checks: Array<{ tool: string }> }>; certs?: string[] };
    // plus the bundle's certificates (pki/, made by generate, listed in the manifest's certs): openssl verify
    const expected = [...Object.entries(manifest.files).flatMap(([file, e]) => e.checks.map((c) => `${file} ${c.tool}`)), ...(manifest.certs ?? []).map((c) => `pki/${c}.crt x509`)].sort();
    expect(expected.length).toBeGreaterThan(0);

    // 1. the bundle as generated: every check runs and passes
    const clean = await limited(() => runCli(['validate', '--json'], { cwd: dir, env: { HA_GEN_REQUIRE_TOOLS: '1', NO_COLOR: '1' }, timeoutMs: 150_000 }));
    const json = JSON.parse(clean.stdout) as JsonResult;
    const notPassed = json.results.filter((r) => r.status !== 'passed').map((r) => `${r.file} (${r.tool}): ${r.status}: ${r.message}`);
    expect(notPassed.join('\n'), 'every check passes').toBe('');
    expect(clean.code, clean.stderr).toBe(0);
    expect(json.requireTools).toBe(true);
    expect(json.results.map((r) => `${r.file} ${r.tool}`).sort()).toEqual(expected);

    if (!breakages.length) return;
    // 2. one broken file per kind, all in this bundle at once: each is named, the rest still pass
    const broken = new Map<string, string>(); // file -> kind
    for (const b of breakages) {
      const file = Object.keys(manifest.files).find((f) => manifest.files[f]!.checks.some((c) => c.tool === b.kind) && (!b.pick || b.pick.test(f)) && !broken.has(f));
      expect(file, `a file checked by ${b.kind} in ${id}`).toBeDefined();
      const abs = path.join(bundle, file!);
      await fs.writeFile(abs, b.corrupt(await fs.readFile(abs, 'utf8')));
      broken.set(file!, b.kind);
    }
    const bad = await limited(() => runCli(['validate'], { cwd: dir, env: { HA_GEN_REQUIRE_TOOLS: '1', NO_COLOR: '1' }, timeoutMs: 150_000 }));
    expect(bad.code, bad.output).toBe(1);
    expect(bad.output).not.toMatch(/\n\s+at .+:\d+:\d+/);
    const lines = parseHuman(bad.stdout);
    expect(lines.map((l) => `${l.file} ${l.tool}`).sort()).toEqual(expected);
    for (const [file, kind] of broken) {
      expect(lines.find((l) => l.file === file && l.tool === kind)?.status, `${kind} check of the broken ${file}`).toBe('failed');
    }
    // checks of files nobody touched still pass (a broken file may fail more than one of its own checks)
    const collateral = lines.filter((l) => l.status !== 'passed' && !broken.has(l.file));
    expect(collateral).toEqual([]);
    expect(bad.stdout).toMatch(/validation failed: \d+ passed, [1-9]\d* failed, 0 skipped/);
  });
});

describe('every kind of check has a broken-file test', () => {
  it('covers nginx, haproxy, caddy, compose, stack, pg-conf, pg-hba, sql, shell, yaml, systemd, keepalived, nft', () => {
    expect(new Set(BREAKAGES.map((b) => b.kind))).toEqual(new Set(['nginx', 'haproxy', 'caddy', 'compose', 'stack', 'pg-conf', 'pg-hba', 'sql', 'shell', 'yaml', 'systemd', 'keepalived', 'nft']));
    for (const b of BREAKAGES) expect(PRESETS.map((p) => p.id)).toContain(b.preset);
  });
});
