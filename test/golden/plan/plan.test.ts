/**
 * Golden output of `ha-gen plan` for each tier, as text and as --json, from the built CLI.
 * A change shows up as a reviewable diff; accept it with `npx vitest run -u test/golden/plan`.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cleanupTempDirs, hashTree, runCli, tempDir } from '../../helpers/cli.js';

const SPECS: Record<string, Record<string, unknown>> = {
  'single-server': { version: 1, tier: 'single-server' },
  'multi-server': {
    version: 1,
    tier: 'multi-server',
    platform: 'hosts',
    loadBalancer: { kind: 'haproxy', floatingAddress: '10.0.1.4' },
    database: { ha: 'patroni', synchronous: true },
    storage: 'glusterfs',
    hosts: [
      { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
      { name: 'lb2', address: '10.0.1.6', roles: ['lb'] },
      { name: 'app1', address: '10.0.1.10', roles: ['app', 'storage'] },
      { name: 'app2', address: '10.0.1.11', roles: ['app', 'storage'] },
      { name: 'db1', address: '10.0.2.10', roles: ['db', 'etcd'] },
      { name: 'db2', address: '10.0.2.11', roles: ['db', 'etcd'] },
      { name: 'db3', address: '10.0.2.12', roles: ['db', 'etcd', 'storage'] },
    ],
  },
  'multi-region': { version: 1, tier: 'multi-region', storage: 's3', backup: { repository: 's3' } },
};

afterAll(cleanupTempDirs);

describe.each(Object.keys(SPECS))('ha-gen plan, tier %s', (tier) => {
  const setup = async () => {
    const dir = await tempDir(`plan-${tier}`);
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), stringify(SPECS[tier]));
    return dir;
  };

  it('text output matches the golden file and writes nothing', async () => {
    const dir = await setup();
    const before = await hashTree(dir);
    const r = await runCli(['plan'], { cwd: dir, env: { NO_COLOR: '1' } });
    expect(r.code, r.output).toBe(0);
    expect(await hashTree(dir)).toEqual(before);
    expect(r.stdout).toMatch(/Availability/);
    await expect(r.stdout).toMatchFileSnapshot(`./${tier}.txt`);
  });

  it('--json output matches the golden file', async () => {
    const dir = await setup();
    const r = await runCli(['plan', '--json', '-c', 'ha-gen.yaml'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    const plan = JSON.parse(r.stdout) as { tier: string; availability: { composite: number } };
    expect(plan.tier).toBe(tier);
    await expect(r.stdout).toMatchFileSnapshot(`./${tier}.json`);
  });
});
