/**
 * Real tools on the database files of every platform and mode: patroni --validate-config (+ its
 * postgresql.parameters through postgres -C), etcd (keys and a real start), postgres -C, pg_hba on a
 * throwaway cluster, psql, shellcheck, haproxy -c, systemd-analyze. And the checkers fail on a broken file.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, runCli, tempDir } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';

const tools = skipUnlessTool(['patroni', 'etcd', 'postgres', 'psql', 'haproxy', 'shellcheck', 'yamllint', 'systemd-analyze', 'unshare', 'ip', 'curl'], 'database real-tool checks');
const isRoot = process.getuid?.() === 0;

const INVENTORY = `hosts:
  - { name: lb1, address: 10.0.1.5, roles: [lb] }
  - { name: app1, address: 10.0.1.10, roles: [app] }
  - { name: app2, address: 10.0.1.11, roles: [app] }
  - { name: db1, address: 10.0.2.10, roles: [db, etcd] }
  - { name: db2, address: 10.0.2.11, roles: [db, etcd] }
  - { name: db3, address: 10.0.2.12, roles: [db, etcd] }
`;
// Files this part of ha-gen writes (other parts' files are checked by their own tests).
const DB_FILE = /(^|\/)(patroni|etcd|postgres|db-endpoint)\/|haproxy-db|postgresql@|patroni\.service|etcd\.service|replica-bootstrap|-promote$|replication-role|monitor-replication|app-role/;

interface Result { file: string; tool: string; status: string; message: string }

async function generateAndValidate(spec: string): Promise<{ dir: string; results: Result[] }> {
  const dir = await tempDir('ha-gen-db-validate');
  await fs.writeFile(path.join(dir, 'ha-gen.yaml'), spec);
  const g = await runCli(['generate', '--out', 'bundle', '--force'], { cwd: dir });
  expect(g.code, g.output).toBe(0);
  const v = await runCli(['validate', 'bundle', '--json'], { cwd: dir, timeoutMs: 120_000 });
  const results = (JSON.parse(v.stdout) as { results: Result[] }).results.filter((r) => DB_FILE.test(r.file));
  return { dir, results };
}

describe.skipIf(tools.skip || !isRoot)('real tools: database files of every platform and mode', { timeout: 180_000 }, () => {
  afterAll(cleanupTempDirs);
  const cases: Array<[string, string]> = [
    ['hosts patroni (synchronous)', `version: 1\ntier: multi-server\nplatform: hosts\nstorage: nfs\ndatabase: { ha: patroni, synchronous: true }\n${INVENTORY}`],
    ['hosts streaming', `version: 1\ntier: multi-server\nplatform: hosts\nstorage: nfs\ndatabase: { ha: streaming }\n${INVENTORY.replaceAll('[db, etcd]', '[db]')}`],
    ['compose streaming', 'version: 1\nplatform: compose\ndatabase: { ha: streaming }\n'],
    ['compose patroni', 'version: 1\nplatform: compose\ndatabase: { ha: patroni, patroniVersion: 3.3.2 }\n'],
    ['swarm streaming', 'version: 1\ntier: multi-server\nplatform: swarm\nstorage: nfs\ndatabase: { ha: streaming, synchronous: true, replicas: 2 }\n'],
    ['swarm patroni', 'version: 1\ntier: multi-server\nplatform: swarm\nstorage: nfs\ndatabase: { ha: patroni }\n'],
  ];
  for (const [name, spec] of cases) {
    it.concurrent(`${name}: every database file passes its real tool`, async () => {
      const { results } = await generateAndValidate(spec);
      expect(results.length).toBeGreaterThan(3);
      const bad = results.filter((r) => r.status !== 'passed');
      expect(bad.map((r) => `${r.file} (${r.tool}): ${r.status}: ${r.message}`).join('\n')).toBe('');
      if (name.includes('patroni')) expect(results.filter((r) => r.tool === 'patroni' || r.tool === 'etcd').length).toBeGreaterThanOrEqual(4);
    });
  }

  it('the patroni and etcd checkers fail on broken files', async () => {
    const dir = await tempDir('ha-gen-db-broken');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), `version: 1\ntier: multi-server\nplatform: hosts\nstorage: nfs\ndatabase: { ha: patroni }\n${INVENTORY}`);
    expect((await runCli(['generate', '--out', 'bundle', '--force'], { cwd: dir })).code).toBe(0);
    const b = path.join(dir, 'bundle', 'hosts');
    const edit = async (f: string, from: RegExp, to: string) => {
      const t = await fs.readFile(path.join(b, f), 'utf8');
      expect(t).toMatch(from);
      await fs.writeFile(path.join(b, f), t.replace(from, to));
    };
    await edit('db1/etc/patroni/patroni.yml', /^(\s+)ttl: 10$/m, '$1ttl: ten');
    await edit('db2/etc/patroni/patroni.yml', /^(\s+)shared_buffers: .*$/m, '$1shared_buffers: lots');
    await edit('db1/etc/etcd/etcd.conf.yml', /^heartbeat-interval: 100$/m, 'heartbeat-intervall: 100');
    await edit('db2/etc/etcd/etcd.conf.yml', /^election-timeout: 1000$/m, 'election-timeout: soon');
    // validate compares with the manifest (edits are reported too); the checkers' own messages are what we look for
    const v = await runCli(['validate', 'bundle', '--json'], { cwd: dir, timeoutMs: 120_000 });
    const results = (JSON.parse(v.stdout) as { results: Result[] }).results;
    const msg = (f: string, tool: string) => results.find((r) => r.file === `hosts/${f}` && r.tool === tool);
    expect(msg('db1/etc/patroni/patroni.yml', 'patroni')).toMatchObject({ status: 'failed' });
    expect(msg('db1/etc/patroni/patroni.yml', 'patroni')!.message).toMatch(/ttl/);
    expect(msg('db2/etc/patroni/patroni.yml', 'patroni')!.message).toMatch(/shared_buffers/);
    expect(msg('db1/etc/etcd/etcd.conf.yml', 'etcd')!.message).toMatch(/unknown etcd setting\(s\): heartbeat-intervall/);
    expect(msg('db2/etc/etcd/etcd.conf.yml', 'etcd')!.message).toMatch(/election-timeout/);
    expect(msg('db3/etc/patroni/patroni.yml', 'patroni')).toMatchObject({ status: 'passed' });
  });
});
