/**
 * Ownership: files edited by hand or not written by ha-gen are never overwritten or deleted without
 * --force (and the message lists them); symlinks in the output folder are never followed out of it;
 * --out / and --out ~ are refused.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, hashTree, runCli, tempDir } from '../helpers/cli.js';

const SPEC = 'version: 1\nname: own-test\n';

async function fresh(): Promise<string> {
  const dir = await tempDir('i7-own');
  await fs.writeFile(path.join(dir, 'ha-gen.yaml'), SPEC);
  const r = await runCli(['generate'], { cwd: dir });
  expect(r.code, r.output).toBe(0);
  return dir;
}

describe('ownership of the output folder', () => {
  let outside: string;
  beforeAll(async () => {
    outside = await tempDir('i7-outside');
    await fs.writeFile(path.join(outside, 'precious'), 'do not touch\n');
  });
  afterAll(async () => {
    await cleanupTempDirs();
  });

  it('a file edited by hand is refused (exit 2, listed), kept byte for byte; --force replaces it', async () => {
    const dir = await fresh();
    const f = path.join(dir, 'ha-bundle', 'docker-compose.yml');
    await fs.appendFile(f, '# my tweak\n');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), `${SPEC}app:\n  port: 8300\n`);
    const before = await hashTree(dir);
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('docker-compose.yml');
    expect(r.stderr).toMatch(/edited by hand/);
    expect(r.stderr).toMatch(/--force/);
    expect(await hashTree(dir)).toEqual(before);
    const forced = await runCli(['generate', '--force'], { cwd: dir });
    expect(forced.code, forced.output).toBe(0);
    expect(await fs.readFile(f, 'utf8')).not.toContain('# my tweak');
  });

  it('a foreign file at a generated path is refused and listed; a user file elsewhere is kept across runs', async () => {
    const dir = await tempDir('i7-own');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), SPEC);
    await fs.mkdir(path.join(dir, 'ha-bundle'));
    await fs.writeFile(path.join(dir, 'ha-bundle', 'README.md'), 'my own readme\n');
    await fs.writeFile(path.join(dir, 'ha-bundle', 'mine.txt'), 'mine\n');
    const before = await hashTree(dir);
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('README.md');
    expect(r.stderr).toMatch(/not written by ha-gen/);
    expect(await hashTree(dir)).toEqual(before);
    await fs.rm(path.join(dir, 'ha-bundle', 'README.md'));
    expect((await runCli(['generate'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['generate'], { cwd: dir })).code).toBe(0);
    expect(await fs.readFile(path.join(dir, 'ha-bundle', 'mine.txt'), 'utf8')).toBe('mine\n');
  });

  it('a generated file the spec no longer produces is removed only when unedited', async () => {
    const dir = await fresh();
    // haproxy -> nginx: haproxy/haproxy.cfg is no longer generated.
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), `${SPEC}loadBalancer:\n  kind: haproxy\n`);
    expect((await runCli(['generate'], { cwd: dir })).code).toBe(0);
    const cfg = path.join(dir, 'ha-bundle', 'haproxy', 'haproxy.cfg');
    await fs.appendFile(cfg, '# edited\n');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), SPEC);
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('haproxy.cfg');
    expect(await fs.readFile(cfg, 'utf8')).toContain('# edited');
  });

  it('a symlinked folder inside the bundle (hosts -> outside) is not followed, even with --force', async () => {
    const dir = await tempDir('i7-own');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), SPEC);
    await fs.mkdir(path.join(dir, 'ha-bundle'));
    await fs.symlink(outside, path.join(dir, 'ha-bundle', 'postgres'));
    const outsideBefore = await hashTree(outside);
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/symbolic link/);
    const forced = await runCli(['generate', '--force'], { cwd: dir });
    expect(forced.code, forced.output).toBe(0);
    expect(await hashTree(outside)).toEqual(outsideBefore);
    expect((await fs.lstat(path.join(dir, 'ha-bundle', 'postgres'))).isDirectory()).toBe(true);
  });

  it('a symlink at a generated file path is not written through, even with --force', async () => {
    const dir = await tempDir('i7-own');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), SPEC);
    await fs.mkdir(path.join(dir, 'ha-bundle'));
    await fs.symlink(path.join(outside, 'precious'), path.join(dir, 'ha-bundle', 'docker-compose.yml'));
    const r = await runCli(['generate', '--force'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    expect(await fs.readFile(path.join(outside, 'precious'), 'utf8')).toBe('do not touch\n');
    expect((await fs.lstat(path.join(dir, 'ha-bundle', 'docker-compose.yml'))).isFile()).toBe(true);
  });

  it('.env as a symlink is refused (secrets are neither read from nor written through a link)', async () => {
    const dir = await tempDir('i7-own');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), SPEC);
    await fs.mkdir(path.join(dir, 'ha-bundle'));
    await fs.symlink(path.join(outside, 'precious'), path.join(dir, 'ha-bundle', '.env'));
    const before = await hashTree(dir);
    for (const args of [['generate'], ['generate', '--force']]) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\.env is a symbolic link/);
      expect(r.output).not.toContain('do not touch');
    }
    expect(await hashTree(dir)).toEqual(before);
    expect(await fs.readFile(path.join(outside, 'precious'), 'utf8')).toBe('do not touch\n');
  });

  it('the output folder itself as a symlink is refused', async () => {
    const dir = await tempDir('i7-own');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), SPEC);
    await fs.symlink(outside, path.join(dir, 'ha-bundle'));
    const r = await runCli(['generate', '--force'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/symbolic link/);
    expect(await fs.readdir(outside)).toEqual(['precious']);
  });

  it.each([
    ['/', /file system root/],
    ['~', /does not expand "~"/],
    ['~/x', /does not expand "~"/],
    [os.homedir(), /home folder/],
    ['.', /current folder/],
    ['..', /parent of the current folder/],
  ])('--out %s is refused with exit 2 and nothing written', async (out, msg) => {
    const dir = await tempDir('i7-own');
    const work = path.join(dir, 'w');
    await fs.mkdir(work);
    await fs.writeFile(path.join(work, 'ha-gen.yaml'), SPEC);
    const before = await hashTree(dir);
    const r = await runCli(['generate', '--out', out, '--force'], { cwd: work });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(await hashTree(dir)).toEqual(before);
  });
});
