/**
 * `generate --check` with the render cache (write/render-cache.ts): it answers without rendering
 * only when the folder is exactly what the remembered render says, and otherwise behaves like the
 * full check (HA_GEN_RENDER_CACHE=0), with the same exit code, diff and names.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, ensureBuilt, runCli, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());
afterAll(() => cleanupTempDirs());

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

describe('generate --check and the render cache', () => {
  let dir: string;
  let cache: string;
  const env = () => ({ XDG_CACHE_HOME: cache, NO_COLOR: '1' });
  const fast = () => runCli(['generate', '--check'], { cwd: dir, env: env() });
  const full = () => runCli(['generate', '--check'], { cwd: dir, env: { ...env(), HA_GEN_RENDER_CACHE: '0' } });
  const entries = async () => (await fs.readdir(path.join(cache, 'ha-gen', 'render-v1')).catch(() => [])).filter((f) => f.endsWith('.json'));
  /** Both checks agree on the exit code and what they print. */
  const agree = async () => {
    const [a, b] = [await fast(), await full()];
    expect(a.code, a.output).toBe(b.code);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stderr).toBe(b.stderr);
    return a;
  };

  beforeAll(async () => {
    dir = await tempDir('render-cache');
    cache = await tempDir('render-cache-home');
    // a spec with a warning, so the fast path must repeat it
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), 'version: 1\ntier: single-server\nplatform: compose\nhosts:\n  - {name: h1, address: 10.0.0.1, roles: [app]}\n');
    const r = await runCli(['generate'], { cwd: dir, env: env() });
    expect(r.code, r.output).toBe(0);
  });

  it('generate remembers the render; --check then answers from it with the same output as the full check', async () => {
    expect(await entries()).toHaveLength(1);
    const r = await agree();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: hosts \(the inventory\) is only used by platform hosts/);
    // Proof the answer came from the entry: a file count only the entry holds shows up.
    const [name] = await entries();
    const p = path.join(cache, 'ha-gen', 'render-v1', name!);
    const e = JSON.parse(await fs.readFile(p, 'utf8'));
    await fs.writeFile(p, JSON.stringify({ ...e, files: 4242 }));
    expect((await fast()).stdout).toMatch(/\(4242 files\)/);
    await fs.writeFile(p, JSON.stringify(e));
  });

  it('in colour (FORCE_COLOR) both paths print the same bytes', async () => {
    const colour = { XDG_CACHE_HOME: cache, FORCE_COLOR: '1', NO_COLOR: undefined };
    const a = await runCli(['generate', '--check'], { cwd: dir, env: colour });
    const b = await runCli(['generate', '--check'], { cwd: dir, env: { ...colour, HA_GEN_RENDER_CACHE: '0' } });
    expect(a.stdout).toContain('\x1b[32mok\x1b[39m');
    expect(a.stdout).toBe(b.stdout);
    expect(a.stderr).toBe(b.stderr);
  });

  it('HA_GEN_RENDER_CACHE=0 writes no entry', async () => {
    const other = await tempDir('render-cache-off');
    const before = await entries();
    const r = await runCli(['generate', '-o', path.join(other, 'b')], { cwd: dir, env: { ...env(), HA_GEN_RENDER_CACHE: '0' } });
    expect(r.code, r.output).toBe(0);
    expect(await entries()).toEqual(before);
  });

  it('keeps at most 500 entries, dropping the oldest', async () => {
    const home = await tempDir('render-cache-full');
    const folder = path.join(home, 'ha-gen', 'render-v1');
    await fs.mkdir(folder, { recursive: true });
    const old = new Date('2020-01-01T00:00:00Z');
    for (let i = 0; i < 520; i++) {
      const f = path.join(folder, `${String(i).padStart(64, '0')}.json`);
      await fs.writeFile(f, '{}');
      await fs.utimes(f, old, new Date(old.getTime() + i * 1000));
    }
    const r = await runCli(['generate', '--check'], { cwd: dir, env: { XDG_CACHE_HOME: home } });
    expect(r.code, r.output).toBe(0);
    const left = (await fs.readdir(folder)).filter((f) => f.endsWith('.json'));
    expect(left.length).toBeLessThanOrEqual(500);
    expect(left.length).toBeGreaterThan(300);
    // the newest fake entries and the real one stayed
    expect(left).toContain(`${String(519).padStart(64, '0')}.json`);
    expect(left).not.toContain(`${String(0).padStart(64, '0')}.json`);
    expect(left.filter((f) => !/^0+[0-9]{1,3}\.json$/.test(f))).toHaveLength(1);
  });

  const bundle = () => path.join(dir, 'ha-bundle');
  const cases: Array<[string, () => Promise<() => Promise<void>>, number]> = [
    ['an edited file', async () => {
      const f = path.join(bundle(), 'nginx/nginx.conf');
      const t = await fs.readFile(f, 'utf8');
      await fs.writeFile(f, `${t}# edit\n`);
      return () => fs.writeFile(f, t);
    }, 1],
    ['an edited file whose new hash was written into the manifest', async () => {
      const f = path.join(bundle(), 'nginx/nginx.conf');
      const m = path.join(bundle(), '.ha-gen/manifest.json');
      const [t, mt] = [await fs.readFile(f, 'utf8'), await fs.readFile(m, 'utf8')];
      await fs.writeFile(f, `${t}# edit\n`);
      await fs.writeFile(m, mt.replace(sha(t), sha(`${t}# edit\n`)));
      return async () => {
        await fs.writeFile(f, t);
        await fs.writeFile(m, mt);
      };
    }, 1],
    ['a deleted file', async () => {
      const f = path.join(bundle(), 'README.md');
      const t = await fs.readFile(f);
      await fs.rm(f);
      return () => fs.writeFile(f, t);
    }, 1],
    ['a changed mode', async () => {
      const f = path.join(bundle(), 'smoke.sh');
      await fs.chmod(f, 0o644);
      return () => fs.chmod(f, 0o755);
    }, 1],
    ['a changed manifest mode', async () => {
      const f = path.join(bundle(), '.ha-gen/manifest.json');
      await fs.chmod(f, 0o600);
      return () => fs.chmod(f, 0o644);
    }, 1],
    ['a stray file', async () => {
      const f = path.join(bundle(), 'nginx/stray.conf');
      await fs.writeFile(f, 'x');
      return () => fs.rm(f);
    }, 1],
    ['a folder where a file belongs', async () => {
      const f = path.join(bundle(), 'README.md');
      const t = await fs.readFile(f);
      await fs.rm(f);
      await fs.mkdir(f);
      return async () => {
        await fs.rmdir(f);
        await fs.writeFile(f, t);
      };
    }, 1],
    ['a file inside .ha-gen/ and .git/ (ignored by both)', async () => {
      await fs.writeFile(path.join(bundle(), '.ha-gen/notes'), 'x');
      await fs.mkdir(path.join(bundle(), '.git'));
      return async () => {
        await fs.rm(path.join(bundle(), '.ha-gen/notes'));
        await fs.rm(path.join(bundle(), '.git'), { recursive: true });
      };
    }, 0],
    ['a comment added to the spec (a new key: the full check answers, and remembers)', async () => {
      const f = path.join(dir, 'ha-gen.yaml');
      const t = await fs.readFile(f, 'utf8');
      await fs.writeFile(f, `${t}# a comment\n`);
      return () => fs.writeFile(f, t);
    }, 0],
    ['a spec change', async () => {
      const f = path.join(dir, 'ha-gen.yaml');
      const t = await fs.readFile(f, 'utf8');
      await fs.writeFile(f, `${t}loadBalancer: {kind: caddy}\n`);
      return () => fs.writeFile(f, t);
    }, 1],
  ];
  for (const [what, mutate, code] of cases) {
    it(`${what}: exit ${code} from both, same output`, async () => {
      const undo = await mutate();
      try {
        const r = await agree();
        expect(r.code).toBe(code);
        if (code === 1) expect(r.stderr).toMatch(/drift:/);
      } finally {
        await undo();
      }
      expect((await fast()).code).toBe(0);
    });
  }
});
