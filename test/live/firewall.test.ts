/**
 * The firewall from the flows, live: the generated nftables ruleset of a database host is loaded
 * on a lab host as deploy.sh loads it, and a connection the model has passes while ones it has not
 * (an app host to etcd, an lb host to PostgreSQL) are dropped.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createLab, type Lab } from '../lab/lab.js';
import { labRequirements } from '../lab/requirements.js';
import { skipUnlessTool } from '../helpers/tools.js';
import { cleanupTempDirs, ensureBuilt, runCli, tempDir } from '../helpers/cli.js';

const lab0 = labRequirements('live firewall');
const req = lab0.skip ? lab0 : skipUnlessTool(['nft', 'python3'], 'live firewall');

const net = (n: number) => `127.0.91.${n}`;
const HOSTS = [
  { name: 'lb1', address: net(5), roles: ['lb'] },
  { name: 'lb2', address: net(6), roles: ['lb'] },
  { name: 'app1', address: net(10), roles: ['app'] },
  { name: 'app2', address: net(11), roles: ['app'] },
  { name: 'db1', address: net(20), roles: ['db', 'etcd', 'storage'] },
  { name: 'db2', address: net(21), roles: ['db', 'etcd', 'storage'] },
  { name: 'db3', address: net(22), roles: ['db', 'etcd', 'storage'] },
];

describe.skipIf(req.skip)('the generated firewall on a lab host', () => {
  let lab: Lab;
  let bundle = '';
  const listeners: Array<{ stop: () => Promise<unknown> }> = [];

  beforeAll(async () => {
    ensureBuilt();
    const dir = await tempDir('firewall');
    const spec = { version: 1, tier: 'multi-server', platform: 'hosts', database: { ha: 'patroni', version: 15 }, loadBalancer: { floatingAddress: net(4) }, hosts: HOSTS };
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), stringify(spec));
    const r = await runCli(['generate', '--out', 'b'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    bundle = path.join(dir, 'b');
    lab = await createLab({ hosts: HOSTS.filter((h) => ['lb1', 'app1', 'db1'].includes(h.name)).map(({ name, address }) => ({ name, address })) });
    await lab.install('db1', path.join(bundle, 'hosts/db1'));
    // stand-ins for PostgreSQL, Patroni's REST API and etcd on their ports
    for (const port of [5432, 8008, 2379]) listeners.push(lab.spawn('db1', ['python3', '-m', 'http.server', '--bind', net(20), String(port)], { name: `listen-${port}` }));
    for (const port of [5432, 8008, 2379]) await waitOpen('app1', net(20), port);
    // as the unit does (ExecStart=/usr/sbin/nft -f /etc/home-registry/firewall.nft)
    const unit = await fs.readFile(path.join(bundle, 'hosts/db1/etc/systemd/system/home-registry-firewall.service'), 'utf8');
    const exec = /^ExecStart=(.+)$/m.exec(unit)![1]!.split(' ');
    const applied = await lab.exec('db1', exec);
    expect(applied.code, applied.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    for (const l of listeners) await l.stop().catch(() => undefined);
    await lab?.close();
    await cleanupTempDirs();
  });

  async function waitOpen(from: string, address: string, port: number): Promise<void> {
    for (let i = 0; i < 50; i++) {
      if ((await lab.tcp(from, address, port, 500)).ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${address}:${port} never opened`);
  }

  it('lets in the flows the model has: the app host to PostgreSQL and to Patroni\'s REST API (its database endpoint)', async () => {
    expect((await lab.tcp('app1', net(20), 5432, 1000)).ok).toBe(true);
    expect((await lab.tcp('app1', net(20), 8008, 1000)).ok).toBe(true);
  });

  it('drops what no flow needs: the app host to etcd, the lb host to PostgreSQL', async () => {
    const etcd = await lab.tcp('app1', net(20), 2379, 1000);
    expect(etcd.ok).toBe(false);
    expect(etcd.error).toMatch(/timeout/i);
    const pg = await lab.tcp('lb1', net(20), 5432, 1000);
    expect(pg.ok).toBe(false);
    expect(pg.error).toMatch(/timeout/i);
  });

  it('the host itself still reaches its own services (loopback) and the ruleset is one table that deletes cleanly', async () => {
    expect((await lab.tcp('db1', net(20), 2379, 1000)).ok).toBe(true);
    const del = await lab.exec('db1', ['nft', 'delete', 'table', 'inet', 'ha_gen_home_registry']);
    expect(del.code, del.stderr).toBe(0);
    expect((await lab.tcp('app1', net(20), 2379, 1000)).ok).toBe(true);
  });
});
