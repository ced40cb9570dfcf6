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

describe("deploy.sh's copy onto a host", () => {
  it('keeps the modes of folders the host already has (/, /etc) even when the local copy differs', async () => {
    const dir = await tempDir('umask-deploy');
    const r = spawnSync(process.execPath, [BIN, 'init', '--yes', '--platform', 'hosts'], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const bundle = path.join(dir, 'ha-bundle');
    // The unpack half of deploy.sh's tar pipe, exactly as generated, aimed at a stand-in root.
    const script = await fs.readFile(path.join(bundle, 'deploy.sh'), 'utf8');
    const unpack = /\| remote "(tar -C \/ -xf - [^"]*)"/.exec(script)?.[1];
    expect(unpack).toBeDefined();
    const host = (await fs.readdir(path.join(bundle, 'hosts')))[0]!;
    const root = await tempDir('umask-deploy-root');
    await fs.mkdir(path.join(root, 'etc'));
    await fs.chmod(root, 0o755);
    await fs.chmod(path.join(root, 'etc'), 0o755);
    // a local copy whose folders a strict umask made private
    await fs.chmod(path.join(bundle, 'hosts', host), 0o700);
    await fs.chmod(path.join(bundle, 'hosts', host, 'etc'), 0o700);
    const t = spawnSync('sh', ['-c', `tar -C "$1" -cf - . | ${unpack!.replace('-C /', '-C "$2"')}`, 'sh', path.join(bundle, 'hosts', host), root], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    expect((await fs.stat(root)).mode & 0o777).toBe(0o755);
    expect((await fs.stat(path.join(root, 'etc'))).mode & 0o777).toBe(0o755);
    expect((await fs.readdir(path.join(root, 'etc'))).length).toBeGreaterThan(0);
  });
});
