/**
 * Secrets: .env values come from crypto.randomBytes (>= 200 bits, URL- and shell-safe), .env is
 * created 0600 with no moment readable by others (checked at the syscall with strace), no secret
 * value shows in another generated file, stdout, stderr or an error message, and a value the user
 * put in .env is kept.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BIN, cleanupTempDirs, parseDotEnv, readTree, runCli, tempDir } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';
import { countCase, fcParams, printCaseCounts, ranCases } from '../property/support.js';

const spy = vi.hoisted(() => ({ calls: 0, fixed: null as Buffer | null }));
vi.mock('node:crypto', async (orig) => {
  const real = await orig<typeof import('node:crypto')>();
  return {
    ...real,
    randomBytes: (n: number) => {
      spy.calls++;
      return spy.fixed ? Buffer.alloc(n, spy.fixed) : real.randomBytes(n);
    },
  };
});
const { randomSecret, SECRET_LENGTH } = await import('../../src/write/secrets.js');

const SAFE = /^[A-Za-z0-9]+$/;

describe('secret values', () => {
  afterAll(async () => {
    printCaseCounts('secrets');
    ranCases.clear();
    await cleanupTempDirs();
  });

  it('come from crypto.randomBytes (a fixed source gives a fixed value)', () => {
    spy.calls = 0;
    spy.fixed = Buffer.from([7]);
    try {
      expect(randomSecret()).toBe('H'.repeat(SECRET_LENGTH));
      expect(spy.calls).toBeGreaterThan(0);
    } finally {
      spy.fixed = null;
    }
  });

  it('have >= 200 bits of entropy, only [A-Za-z0-9] (URL-, shell-, YAML-safe), and never repeat', () => {
    expect(SECRET_LENGTH * Math.log2(62)).toBeGreaterThanOrEqual(200);
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), () => {
        countCase('random secrets: length, alphabet, uniqueness');
        const s = randomSecret();
        expect(s).toHaveLength(SECRET_LENGTH);
        expect(s).toMatch(SAFE);
        expect(encodeURIComponent(s)).toBe(s);
        expect(seen.has(s)).toBe(false);
        seen.add(s);
      }),
      fcParams(200),
    );
  });

  it('use every character of the alphabet about equally (no modulo bias)', () => {
    const counts = new Map<string, number>();
    const n = 2000;
    for (let i = 0; i < n; i++) for (const c of randomSecret()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (n * SECRET_LENGTH) / 62;
    const chi2 = [...counts.values()].reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
    // 61 degrees of freedom: p = 0.0001 at about 112.
    expect(chi2).toBeLessThan(112);
  });
});

describe('.env in a generated bundle', () => {
  it('is created 0600 under umask 000, and no other file, stdout or stderr holds a secret value', async () => {
    const dir = await tempDir('i7-secrets');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), 'version: 1\nloadBalancer:\n  kind: haproxy\n  tls: files\n');
    const r = spawnSync('sh', ['-c', `umask 000 && exec "${process.execPath}" "${BIN}" generate`], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const envPath = path.join(dir, 'ha-bundle', '.env');
    expect((await fs.stat(envPath)).mode & 0o777).toBe(0o600);
    const env = parseDotEnv(await fs.readFile(envPath, 'utf8'));
    const secrets = [...env.values()].filter((v) => v.length >= 20);
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const s of secrets) expect(s).toMatch(SAFE);
    // Another run, an error after .env exists (a hand-edited file), and --check: none prints a secret.
    await fs.appendFile(path.join(dir, 'ha-bundle', 'README.md'), 'edit\n');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), 'version: 1\nloadBalancer:\n  kind: haproxy\n  tls: files\napp:\n  port: 8300\n');
    const outputs = [r.stdout, r.stderr];
    for (const args of [['generate'], ['generate', '--check'], ['generate', '--force'], ['generate', '--check']]) {
      const x = await runCli(args, { cwd: dir });
      outputs.push(x.output);
    }
    const files = await readTree(path.join(dir, 'ha-bundle'));
    expect(files.size).toBeGreaterThan(5);
    for (const s of secrets) {
      for (const [rel, text] of files) if (rel !== '.env') expect(text.includes(s), `${rel} contains a secret value`).toBe(false);
      for (const o of outputs) expect(o.includes(s), 'a secret value was printed').toBe(false);
    }
    expect((await fs.stat(envPath)).mode & 0o777).toBe(0o600);
  });

  const strace = skipUnlessTool(['strace'], '.env creation syscall check');
  it.skipIf(strace.skip)('.env is opened with O_CREAT|O_EXCL and mode 0600 (never created wider, then narrowed)', async () => {
    const dir = await tempDir('i7-secrets');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), 'version: 1\n');
    const log = path.join(dir, 'trace.log');
    const r = spawnSync('sh', ['-c', `umask 000 && exec strace -f -qq -e trace=open,openat,creat,chmod,fchmod,fchmodat -o "${log}" "${process.execPath}" "${BIN}" generate`], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = (await fs.readFile(log, 'utf8')).split('\n').filter((l) => /\/\.env"/.test(l) && !/\.env\.example/.test(l));
    const creates = lines.filter((l) => /O_CREAT/.test(l));
    expect(creates.length, lines.join('\n')).toBeGreaterThan(0);
    for (const l of creates) {
      expect(l).toMatch(/O_EXCL/);
      expect(l).toMatch(/O_NOFOLLOW/);
      expect(l).toMatch(/, 0600\)/);
    }
    expect((await fs.stat(path.join(dir, 'ha-bundle', '.env'))).mode & 0o777).toBe(0o600);
  });

  it('a value the user put in .env is kept, before the first run and across later runs; missing names are added', async () => {
    const dir = await tempDir('i7-secrets');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), 'version: 1\n');
    await fs.mkdir(path.join(dir, 'ha-bundle'));
    await fs.writeFile(path.join(dir, 'ha-bundle', '.env'), '# mine\nJWT_SECRET=my-own-jwt-secret-value\n', { mode: 0o644 });
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['generate'], { cwd: dir });
      expect(r.code, r.output).toBe(0);
      expect(r.output).not.toContain('my-own-jwt-secret-value');
    }
    const text = await fs.readFile(path.join(dir, 'ha-bundle', '.env'), 'utf8');
    const env = parseDotEnv(text);
    expect(env.get('JWT_SECRET')).toBe('my-own-jwt-secret-value');
    expect(text).toContain('# mine');
    expect(env.get('POSTGRES_PASSWORD')).toMatch(/^[A-Za-z0-9]{40}$/);
    expect((await fs.stat(path.join(dir, 'ha-bundle', '.env'))).mode & 0o777).toBe(0o600);
    // .env stays out of git.
    expect(await fs.readFile(path.join(dir, 'ha-bundle', '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
  });
});
