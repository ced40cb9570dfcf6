/** .env: 0600, git-ignored, kept across generate, grows when the spec adds a secret, never leaks into other files. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolAvailable } from '../helpers/tools.js';
import { cleanupTempDirs, ensureBuilt, parseDotEnv, readTree, runCli, tempDir } from '../helpers/cli.js';

let dir: string;
let envPath: string;
const readEnv = async () => parseDotEnv(await fs.readFile(envPath, 'utf8'));
const modeOf = async (p: string) => (await fs.stat(p)).mode & 0o777;

/** No value of .env appears in any other file of the folder (spec file included). */
async function expectNoLeak(root: string, env: Map<string, string>) {
  const tree = await readTree(root);
  const values = [...env.values()].filter((v) => v.length >= 8);
  expect(values.length).toBeGreaterThan(0);
  for (const [rel, text] of tree) {
    if (rel === 'ha-bundle/.env') continue;
    for (const v of values) expect(text.includes(v), `${rel} contains a secret value`).toBe(false);
  }
}

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('env');
  envPath = path.join(dir, 'ha-bundle/.env');
  const r = await runCli(['init', '--yes'], { cwd: dir });
  expect(r.code, r.output).toBe(0);
});
afterAll(() => cleanupTempDirs());

describe('.env', () => {
  it('is created with mode 0600, strong random values, the names .env.example lists', async () => {
    expect(await modeOf(envPath)).toBe(0o600);
    const env = await readEnv();
    const example = parseDotEnv(await fs.readFile(path.join(dir, 'ha-bundle/.env.example'), 'utf8'));
    expect([...env.keys()].sort()).toEqual([...example.keys()].sort());
    expect([...env.keys()]).toEqual(expect.arrayContaining(['JWT_SECRET', 'POSTGRES_PASSWORD', 'APP_DB_PASSWORD']));
    for (const v of example.values()) expect(v).toBe('');
    const values = [...env.values()];
    for (const v of values) expect(v).toMatch(/^[A-Za-z0-9]{32,}$/);
    expect(new Set(values).size).toBe(values.length);
  });

  it('is listed in the bundle .gitignore (and git agrees when git is here)', async () => {
    const gi = await fs.readFile(path.join(dir, 'ha-bundle/.gitignore'), 'utf8');
    expect(gi.split('\n')).toContain('.env');
    if (toolAvailable('git')) {
      execFileSync('git', ['init', '-q'], { cwd: dir });
      // exit 0 = ignored; throws otherwise
      execFileSync('git', ['check-ignore', '-q', 'ha-bundle/.env'], { cwd: dir });
      await fs.rm(path.join(dir, '.git'), { recursive: true, force: true });
    }
  });

  it('no value appears in any other file', async () => expectNoLeak(dir, await readEnv()));

  it('survives generate and generate --force with values unchanged (and stays 0600)', async () => {
    const before = await fs.readFile(envPath, 'utf8');
    await fs.chmod(envPath, 0o600);
    for (const args of [['generate'], ['generate', '--force']]) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code, r.output).toBe(0);
      expect(await fs.readFile(envPath, 'utf8')).toBe(before);
      expect(await modeOf(envPath)).toBe(0o600);
    }
  });

  it('values the user set by hand are kept', async () => {
    const text = await fs.readFile(envPath, 'utf8');
    await fs.writeFile(envPath, text.replace(/^JWT_SECRET=.*$/m, 'JWT_SECRET=myOwnSecretValue123456'));
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    expect((await readEnv()).get('JWT_SECRET')).toBe('myOwnSecretValue123456');
    // generate --check ignores .env
    expect((await runCli(['generate', '--check'], { cwd: dir })).code).toBe(0);
  });

  it('gets the new name when the spec adds a secret (nginx -> haproxy: HAPROXY_STATS_PASSWORD); old values stay', async () => {
    const old = await readEnv();
    expect(old.has('HAPROXY_STATS_PASSWORD')).toBe(false);
    const spec = path.join(dir, 'ha-gen.yaml');
    await fs.writeFile(spec, (await fs.readFile(spec, 'utf8')).replace('kind: nginx', 'kind: haproxy'));
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(/\.env: added HAPROXY_STATS_PASSWORD/);
    const now = await readEnv();
    expect(now.get('HAPROXY_STATS_PASSWORD')).toMatch(/^[A-Za-z0-9]{32,}$/);
    for (const [k, v] of old) expect(now.get(k), k).toBe(v);
    expect(await modeOf(envPath)).toBe(0o600);
    await expectNoLeak(dir, now);
    // the config reads the password from the environment, by name
    expect(await fs.readFile(path.join(dir, 'ha-bundle/haproxy/haproxy.cfg'), 'utf8')).toMatch(/HAPROXY_STATS_PASSWORD/);
  });
});
