/**
 * `.env` is read as data by the scripts that load it (hosts and swarm deploy.sh): `$(...)` and
 * backticks in a hand-set value never run, and a value outside the alphabet is refused naming its key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { cleanupTempDirs, ensureBuilt, runCli, tempDir } from '../helpers/cli.js';

const hosts = [
  { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
  { name: 'app1', address: '10.0.1.10', roles: ['app'] },
  { name: 'app2', address: '10.0.1.11', roles: ['app'] },
  { name: 'db1', address: '10.0.2.10', roles: ['db'] },
  { name: 'st1', address: '10.0.3.10', roles: ['storage'] },
];

let dir = '';
let hostsEnv = '';
let swarmEnv = '';
/** A fake `docker` that says it is a swarm manager and logs every other call (no daemon needed). */
let fakeBin = '';

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('env-as-data');
  await fs.writeFile(path.join(dir, 'hosts.yaml'), stringify({ version: 1, platform: 'hosts', loadBalancer: { kind: 'haproxy' }, storage: 'nfs', hosts }));
  let r = await runCli(['generate', '-c', 'hosts.yaml', '--out', 'h'], { cwd: dir });
  expect(r.code, r.output).toBe(0);
  await fs.writeFile(path.join(dir, 'swarm.yaml'), stringify({ version: 1, tier: 'multi-server', platform: 'swarm' }));
  r = await runCli(['generate', '-c', 'swarm.yaml', '--out', 's'], { cwd: dir });
  expect(r.code, r.output).toBe(0);
  hostsEnv = await fs.readFile(path.join(dir, 'h/.env'), 'utf8');
  swarmEnv = await fs.readFile(path.join(dir, 's/.env'), 'utf8');
  fakeBin = path.join(dir, 'bin');
  await fs.mkdir(fakeBin);
  await fs.writeFile(path.join(fakeBin, 'docker'), `#!/bin/sh\necho "$*" >>"${path.join(dir, 'docker.log')}"\n[ "$1" = info ] && echo true\n[ "$1" = node ] && echo n1\nexit 0\n`, { mode: 0o755 });
});
afterAll(() => cleanupTempDirs());

const withJwt = (env: string, value: string) => {
  expect(env).toMatch(/^JWT_SECRET=/m);
  return env.replace(/^JWT_SECRET=.*$/m, `JWT_SECRET=${value}`);
};

const runHosts = () => spawnSync('bash', [path.join(dir, 'h/deploy.sh'), 'app1', '--dry-run'], { encoding: 'utf8' });
const runSwarm = () => spawnSync('bash', [path.join(dir, 's/deploy.sh'), 'up'], { encoding: 'utf8', env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH}` } });

describe.each([
  ['hosts deploy.sh --dry-run', () => path.join(dir, 'h/.env'), () => hostsEnv, runHosts],
  ['swarm deploy.sh up', () => path.join(dir, 's/.env'), () => swarmEnv, runSwarm],
] as const)('%s reads .env as data', (_name, envPath, original, run) => {
  it.each([
    ['$(...)', (p: string) => `abc$(touch ${p})`],
    ['backticks', (p: string) => `abc\`touch ${p}\``],
    ['double-quoted $(...)', (p: string) => `"abc$(touch ${p})"`],
    ['; command', (p: string) => `abc;touch ${p}`],
  ])('a value with %s is refused naming the key and never runs', async (_what, value) => {
    const marker = path.join(dir, `pwned-${Math.random().toString(36).slice(2)}`);
    await fs.writeFile(envPath(), withJwt(original(), value(marker)), { mode: 0o600 });
    const r = run();
    expect(existsSync(marker), 'the command in .env ran').toBe(false);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('JWT_SECRET');
    expect(r.stderr).toMatch(/refused/);
  });

  it('comments, blank lines, quotes and names it does not use are fine; PATH is not taken from .env', async () => {
    const text = `# a comment\n\n   # indented comment\nPATH=/nowhere\n${withJwt(original(), '"quoted-Value_1.2"')}`;
    await fs.writeFile(envPath(), text, { mode: 0o600 });
    const r = run();
    expect(r.status, r.stderr).toBe(0);
  });

  it('a line that is not KEY=VALUE is refused', async () => {
    await fs.writeFile(envPath(), `${original()}\necho hi\n`, { mode: 0o600 });
    const r = run();
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is not KEY=VALUE/);
  });
});
