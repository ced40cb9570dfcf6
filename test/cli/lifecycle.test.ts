/** init -> generate -> --check -> drift -> hand-edit protection -> spec shrink, on the built bin. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, ensureBuilt, hashTree, runCli, tempDir, type CliResult } from '../helpers/cli.js';

const NO_STACK = /\n\s+at .+:\d+:\d+/;
const expectClean = (r: CliResult) => {
  expect(r.output).not.toMatch(NO_STACK);
  expect(r.output).not.toMatch(/unexpected error/);
};

beforeAll(() => ensureBuilt());
afterAll(() => cleanupTempDirs());

describe('init --yes', () => {
  it('writes ha-gen.yaml (with the schema comment first) and ha-bundle/, exit 0', async () => {
    const dir = await tempDir('init');
    const r = await runCli(['init', '--yes'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    expectClean(r);
    const spec = await fs.readFile(path.join(dir, 'ha-gen.yaml'), 'utf8');
    expect(spec.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=\S+ha-gen\.schema\.json$/);
    expect(spec).toMatch(/^version: 1$/m);
    expect(spec).toMatch(/^tier: single-server$/m);
    const tree = await hashTree(path.join(dir, 'ha-bundle'));
    for (const f of ['docker-compose.yml', 'nginx/nginx.conf', 'README.md', '.env', '.env.example', '.gitignore', '.ha-gen/manifest.json']) expect(tree[f]?.kind, f).toBe('file');
    expect(r.stdout).toMatch(/ha-gen\.yaml/);
    expect(r.stdout).toMatch(/ha-bundle/);
    // no staging leftovers beside the output
    expect((await fs.readdir(dir)).sort()).toEqual(['ha-bundle', 'ha-gen.yaml']);
  });

  it('honours --config and --out, and the spec file it writes regenerates the same bundle', async () => {
    const dir = await tempDir('init-out');
    const r = await runCli(['init', '--yes', '--lb', 'caddy', '--config', 'conf/prod.yaml', '--out', 'deploy/prod'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    expect((await hashTree(path.join(dir, 'deploy/prod')))['caddy/Caddyfile']?.kind).toBe('file');
    const check = await runCli(['generate', '--check', '-c', 'conf/prod.yaml', '-o', 'deploy/prod'], { cwd: dir });
    expect(check.code, check.output).toBe(0);
  });

  it('refuses to replace an existing spec with other settings without --force (exit 2, nothing written)', async () => {
    const dir = await tempDir('init-again');
    expect((await runCli(['init', '--yes'], { cwd: dir })).code).toBe(0);
    const before = await hashTree(dir);
    const r = await runCli(['init', '--yes', '--lb', 'haproxy'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ha-gen\.yaml already exists.*--force/);
    expectClean(r);
    expect(await hashTree(dir)).toEqual(before);
    const forced = await runCli(['init', '--yes', '--lb', 'haproxy', '--force'], { cwd: dir });
    expect(forced.code, forced.output).toBe(0);
    expect(await fs.readFile(path.join(dir, 'ha-gen.yaml'), 'utf8')).toMatch(/kind: haproxy/);
  });

  it('without --yes and without a terminal it never waits for input', async () => {
    const dir = await tempDir('init-notty');
    const r = await runCli(['init', '--lb', 'caddy'], { cwd: dir, keepStdinOpen: true, timeoutMs: 20_000 });
    expect(r.signal, 'killed while waiting for input').toBeNull();
    expect(r.code, r.output).toBe(0);
    expect(await fs.readFile(path.join(dir, 'ha-gen.yaml'), 'utf8')).toMatch(/kind: caddy/);
  });

  it('platform hosts without a terminal gets the example inventory the wizard writes', async () => {
    const dir = await tempDir('init-hosts');
    const r = await runCli(['init', '--yes', '--tier', 'multi-server', '--platform', 'hosts', '--db', 'patroni'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    expect(r.stderr).toMatch(/example inventory of \d+ hosts and an example floating address for the load balancers: edit/);
    const spec = await fs.readFile(path.join(dir, 'ha-gen.yaml'), 'utf8');
    expect(spec.match(/- etcd/g)?.length).toBe(3);
    expect((await hashTree(path.join(dir, 'ha-bundle')))['hosts/lb1/etc/nginx/nginx.conf']?.kind).toBe('file');
    expect((await runCli(['generate', '--check'], { cwd: dir })).code).toBe(0);
  });

  it('init --yes --platform hosts alone works: single-server on hosts gets nfs for its app hosts', async () => {
    const dir = await tempDir('init-hosts-single');
    const r = await runCli(['init', '--yes', '--platform', 'hosts'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    const spec = await fs.readFile(path.join(dir, 'ha-gen.yaml'), 'utf8');
    expect(spec).toMatch(/^storage:\n  kind: nfs$/m);
    expect((await runCli(['generate', '--check'], { cwd: dir })).code).toBe(0);
  });

  it('re-running the same init is a no-op (exit 0, files unchanged)', async () => {
    const dir = await tempDir('init-same');
    expect((await runCli(['init', '--yes'], { cwd: dir })).code).toBe(0);
    const before = await hashTree(dir);
    const r = await runCli(['init', '--yes'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    expect(await hashTree(dir)).toEqual(before);
  });
});

describe('generate and --check', () => {
  let dir: string;
  let bundle: string;
  const check = () => runCli(['generate', '--check'], { cwd: dir });
  const gen = (...a: string[]) => runCli(['generate', ...a], { cwd: dir });

  beforeAll(async () => {
    dir = await tempDir('check');
    bundle = path.join(dir, 'ha-bundle');
    const r = await runCli(['init', '--yes'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
  });

  it('generate on an up-to-date folder writes nothing new and keeps every byte', async () => {
    const before = await hashTree(bundle);
    const r = await gen();
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(/0 written/);
    expect(await hashTree(bundle)).toEqual(before);
  });

  it('--check exits 0 on a clean folder and writes nothing', async () => {
    const before = await hashTree(dir);
    const r = await check();
    expect(r.code, r.output).toBe(0);
    expect(await hashTree(dir)).toEqual(before);
  });

  it('--check exits 1 after an edit, naming the file, with a unified diff; writes nothing', async () => {
    const f = path.join(bundle, 'nginx/nginx.conf');
    const orig = await fs.readFile(f, 'utf8');
    await fs.writeFile(f, orig.replace('worker_connections', 'worker_connections_typo'));
    const before = await hashTree(dir);
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/changed\s+ha-bundle\/nginx\/nginx\.conf/);
    expect(r.stdout).toMatch(/^--- a\/nginx\/nginx\.conf/m);
    expect(r.stdout).toMatch(/^\+\+\+ b\/nginx\/nginx\.conf/m);
    expect(r.stdout).toMatch(/^-.*worker_connections_typo/m);
    expect(r.stdout).toMatch(/^\+.*worker_connections /m);
    expectClean(r);
    expect(await hashTree(dir)).toEqual(before);
    await fs.writeFile(f, orig);
    expect((await check()).code).toBe(0);
  });

  it('--check exits 1 after a deletion, naming the file', async () => {
    const f = path.join(bundle, 'postgres/postgresql.conf');
    const orig = await fs.readFile(f);
    await fs.rm(f);
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing\s+ha-bundle\/postgres\/postgresql\.conf/);
    await fs.writeFile(f, orig, { mode: 0o644 });
    expect((await check()).code).toBe(0);
  });

  it('--check exits 1 on a stray file among the generated ones, naming it', async () => {
    const stray = path.join(bundle, 'nginx/extra.conf');
    await fs.writeFile(stray, 'server { listen 81; }\n');
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/extra\s+ha-bundle\/nginx\/extra\.conf/);
    await fs.rm(stray);
    expect((await check()).code).toBe(0);
  });

  it('--check exits 1 when a generated file lost its mode', async () => {
    const f = path.join(bundle, 'postgres/init/10-app-role.sh');
    await fs.chmod(f, 0o644);
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/postgres\/init\/10-app-role\.sh/);
    await fs.chmod(f, 0o755);
    expect((await check()).code).toBe(0);
  });

  it('hand-edit protection: generate exits 2 naming the file and writes nothing; --force overwrites', async () => {
    const f = path.join(bundle, 'docker-compose.yml');
    const orig = await fs.readFile(f, 'utf8');
    await fs.appendFile(f, '# my local tweak\n');
    const before = await hashTree(dir);
    const r = await gen();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ha-bundle\/docker-compose\.yml\s+\(edited by hand\)/);
    expect(r.stderr).toMatch(/--force/);
    expectClean(r);
    expect(await hashTree(dir)).toEqual(before);
    const forced = await gen('--force');
    expect(forced.code, forced.output).toBe(0);
    expect(await fs.readFile(f, 'utf8')).toBe(orig);
    expect((await check()).code).toBe(0);
  });

  it('a foreign file at a generated path is refused too', async () => {
    const d2 = await tempDir('foreign');
    await fs.copyFile(path.join(dir, 'ha-gen.yaml'), path.join(d2, 'ha-gen.yaml'));
    await fs.mkdir(path.join(d2, 'ha-bundle'));
    await fs.writeFile(path.join(d2, 'ha-bundle/docker-compose.yml'), 'services: {}\n');
    await fs.writeFile(path.join(d2, 'ha-bundle/notes.txt'), 'mine\n');
    const before = await hashTree(d2);
    const r = await runCli(['generate'], { cwd: d2 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/docker-compose\.yml\s+\(not written by ha-gen\)/);
    expect(await hashTree(d2)).toEqual(before);
    const forced = await runCli(['generate', '--force'], { cwd: d2 });
    expect(forced.code, forced.output).toBe(0);
    // a user's own file that is not in the bundle's way is kept
    expect(await fs.readFile(path.join(d2, 'ha-bundle/notes.txt'), 'utf8')).toBe('mine\n');
  });

  it('never writes through a symbolic link planted in the bundle, even with --force', async () => {
    const d2 = await tempDir('symlink');
    expect((await runCli(['init', '--yes'], { cwd: d2 })).code).toBe(0);
    const victim = path.join(d2, 'victim');
    await fs.mkdir(victim);
    await fs.writeFile(path.join(victim, 'nginx.conf'), 'keep me\n');
    await fs.rm(path.join(d2, 'ha-bundle/nginx'), { recursive: true });
    await fs.symlink('../victim', path.join(d2, 'ha-bundle/nginx'));
    const r = await runCli(['generate'], { cwd: d2 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ha-bundle\/nginx\/nginx\.conf\s+\(a symbolic link\)/);
    const forced = await runCli(['generate', '--force'], { cwd: d2 });
    expect(forced.code, forced.output).toBe(0);
    expect(await fs.readFile(path.join(victim, 'nginx.conf'), 'utf8')).toBe('keep me\n');
    expect((await fs.lstat(path.join(d2, 'ha-bundle/nginx'))).isDirectory()).toBe(true);
    expect((await runCli(['generate', '--check'], { cwd: d2 })).code).toBe(0);
  });

  it('removes files it generated earlier when the spec no longer produces them (nginx -> haproxy)', async () => {
    const specFile = path.join(dir, 'ha-gen.yaml');
    const spec = await fs.readFile(specFile, 'utf8');
    expect(spec).toMatch(/kind: nginx/);
    await fs.writeFile(specFile, spec.replace('kind: nginx', 'kind: haproxy'));
    const stale = await check();
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/extra\s+ha-bundle\/nginx\/nginx\.conf/);
    expect(stale.stderr).toMatch(/missing\s+ha-bundle\/haproxy\/haproxy\.cfg/);
    const r = await gen();
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(/\b[1-9]\d* removed/);
    const tree = await hashTree(bundle);
    expect(tree['nginx/nginx.conf']).toBeUndefined();
    expect(tree['nginx']).toBeUndefined(); // no empty folder left behind
    expect(tree['haproxy/haproxy.cfg']?.kind).toBe('file');
    const manifest = JSON.parse(await fs.readFile(path.join(bundle, '.ha-gen/manifest.json'), 'utf8')) as { files: Record<string, unknown> };
    expect(Object.keys(manifest.files)).not.toContain('nginx/nginx.conf');
    expect((await check()).code).toBe(0);
  });
});

describe('errors without a spec or a bundle', () => {
  it('generate without ha-gen.yaml: exit 2, says how to make one', async () => {
    const dir = await tempDir('nospec');
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ha-gen\.yaml does not exist.*ha-gen init/);
    expectClean(r);
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it('validate of a folder that is not a bundle: exit 2', async () => {
    const dir = await tempDir('novalidate');
    const r = await runCli(['validate', 'nothing-here'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nothing-here does not exist/);
    expectClean(r);
  });

  it('--out pointing at the current folder is refused', async () => {
    const dir = await tempDir('outdot');
    const r = await runCli(['init', '--yes', '--out', '.'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/current folder/);
    expect(await fs.readdir(dir)).toEqual([]);
  });
});
