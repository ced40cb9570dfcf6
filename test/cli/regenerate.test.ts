/** A regenerate with nothing to change writes nothing; a mode or .env gap is still repaired. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cleanupTempDirs, ensureBuilt, runCli, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());
afterAll(() => cleanupTempDirs());

async function inodes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const rel of ['.', 'docker-compose.yml', 'nginx/nginx.conf', '.env']) {
    const st = await fs.stat(path.join(dir, rel));
    out.set(rel, `${st.ino}:${st.mtimeMs}`);
  }
  return out;
}

it('generate with nothing to change keeps the folder and its files (same inodes and mtimes)', async () => {
  const dir = await tempDir('regen');
  expect((await runCli(['init', '--yes'], { cwd: dir })).code).toBe(0);
  const out = path.join(dir, 'ha-bundle');
  const before = await inodes(out);
  const r = await runCli(['generate'], { cwd: dir });
  expect(r.code, r.output).toBe(0);
  expect(r.stdout).toMatch(/0 written/);
  expect(await inodes(out)).toEqual(before);
});

it('a generated file whose mode drifted is rewritten with its mode, and a missing secret name is added', async () => {
  const dir = await tempDir('regen-mode');
  expect((await runCli(['init', '--yes'], { cwd: dir })).code).toBe(0);
  const out = path.join(dir, 'ha-bundle');
  const script = path.join(out, 'smoke.sh');
  await fs.chmod(script, 0o644);
  const env = path.join(out, '.env');
  const text = await fs.readFile(env, 'utf8');
  await fs.writeFile(env, text.replace(/^JWT_SECRET=.*$/m, ''));
  expect((await runCli(['generate', '--check'], { cwd: dir })).code).toBe(1);
  const r = await runCli(['generate'], { cwd: dir });
  expect(r.code, r.output).toBe(0);
  expect((await fs.stat(script)).mode & 0o777).toBe(0o755);
  expect(await fs.readFile(env, 'utf8')).toMatch(/^JWT_SECRET=[A-Za-z0-9]{40}$/m);
  expect((await runCli(['generate', '--check'], { cwd: dir })).code).toBe(0);
});
