/** Generated files get the manifest's modes whatever the umask (write/index.ts chmods only when the umask took bits). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanupTempDirs, ensureBuilt, hashTree, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());
afterAll(() => cleanupTempDirs());

describe('file modes under any umask', () => {
  for (const umask of ['000', '022', '077', '277']) {
    it(`umask ${umask}: every file has its manifest mode, folders are 0755, .env 0600`, async () => {
      const dir = await tempDir(`umask-${umask}`);
      const r = spawnSync('sh', ['-c', `umask ${umask} && exec "$0" "$1" init --yes --platform hosts`, process.execPath, BIN], { cwd: dir, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const bundle = path.join(dir, 'ha-bundle');
      const manifest = JSON.parse(await fs.readFile(path.join(bundle, '.ha-gen/manifest.json'), 'utf8')) as { files: Record<string, { mode: string }> };
      const tree = await hashTree(bundle);
      const modes = new Set(Object.values(manifest.files).map((e) => e.mode));
      expect(modes.has('0755') && modes.has('0644')).toBe(true);
      for (const [rel, e] of Object.entries(manifest.files)) expect(tree[rel]?.mode.toString(8).padStart(4, '0'), rel).toBe(e.mode);
      for (const [rel, e] of Object.entries(tree)) if (e.kind === 'dir') expect(e.mode.toString(8), rel).toBe('755');
      expect(tree['.env']?.mode).toBe(0o600);
      expect(tree['.ha-gen/manifest.json']?.mode).toBe(0o644);
      expect(tree['.umask'], 'the umask probe folder is gone').toBeUndefined();
    });
  }
});

describe("deploy.sh's install onto a host (issue 15)", () => {
  it('under umask 077 the host still gets patroni.yml 0640 root:postgres in a 0750 root:postgres /etc/patroni; /, /etc keep their modes', async () => {
    const dir = await tempDir('umask-deploy');
    const r = spawnSync('sh', ['-c', 'umask 077 && exec "$0" "$1" init --yes --platform hosts --tier multi-server --db patroni', process.execPath, BIN], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const bundle = path.join(dir, 'ha-bundle');
    // what the operator sees first
    const dry = spawnSync('bash', [path.join(bundle, 'deploy.sh'), 'db1', '--dry-run'], { encoding: 'utf8' });
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('would install folder /etc/patroni (mode 0750 root:postgres)');
    expect(dry.stdout).toContain('would install /etc/patroni/patroni.yml (mode 0640 root:postgres)');
    // the real run, with an ssh stand-in that keeps the install command and the tar stream it reads
    const bin = await tempDir('umask-deploy-bin');
    const spool = await tempDir('umask-deploy-spool');
    await fs.writeFile(path.join(bin, 'ssh'), `#!/usr/bin/env bash
while [[ "$1" == -* ]]; do shift; done; shift
if [[ "$*" == *"install -D "* ]]; then printf '%s' "$*" > "${spool}/script"; cat > "${spool}/tree.tar"; else cat >/dev/null; fi
`, { mode: 0o755 });
    const run = spawnSync('bash', ['-c', 'umask 077 && exec "$0" db1', path.join(bundle, 'deploy.sh')], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    expect(run.status, run.stderr + run.stdout).toBe(0);
    const script = await fs.readFile(path.join(spool, 'script'), 'utf8');
    expect(script).toContain('install -D -m 0640 -o root -g postgres "$s/etc/patroni/patroni.yml" /etc/patroni/patroni.yml');
    // run it as generated, aimed at a stand-in root (owners only when this test runs as root)
    const root = await tempDir('umask-deploy-root');
    await fs.mkdir(path.join(root, 'etc'), { mode: 0o755 });
    await fs.chmod(root, 0o755);
    const asRoot = process.getuid?.() === 0 && spawnSync('id', ['postgres']).status === 0;
    if (!asRoot) console.warn('umask.test: not root or no postgres user: owners are not applied, only modes are checked');
    let local = script.replace(/ \/(etc|usr)\//g, ' "$R"/$1/');
    if (!asRoot) local = local.replace(/ -o \S+ -g \S+/g, '');
    const t = spawnSync('bash', ['-c', `umask 077; R="$1"; ${local}`, 'sh', root], { input: await fs.readFile(path.join(spool, 'tree.tar')), encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    const yml = await fs.stat(path.join(root, 'etc/patroni/patroni.yml'));
    const pdir = await fs.stat(path.join(root, 'etc/patroni'));
    expect(yml.mode & 0o777).toBe(0o640);
    expect(pdir.mode & 0o777).toBe(0o750);
    expect((await fs.stat(path.join(root, 'usr/local/sbin/home-registry-backup'))).mode & 0o777).toBe(0o755);
    expect((await fs.stat(path.join(root, 'etc/systemd/system/patroni.service'))).mode & 0o777).toBe(0o644);
    expect((await fs.stat(root)).mode & 0o777).toBe(0o755);
    expect((await fs.stat(path.join(root, 'etc'))).mode & 0o777).toBe(0o755);
    if (asRoot) {
      const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      expect([yml.uid, yml.gid]).toEqual([0, gid]);
      expect([pdir.uid, pdir.gid]).toEqual([0, gid]);
      // and the postgres user itself can read it
      expect(spawnSync('runuser', ['-u', 'postgres', '--', 'cat', path.join(root, 'etc/patroni/patroni.yml')]).status).toBe(0);
    }
  });
});
