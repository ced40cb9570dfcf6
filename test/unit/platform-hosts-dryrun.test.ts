/** Platform hosts: `deploy.sh HOST --dry-run` lists, for every host, exactly its files and units. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { cleanupTempDirs, ensureBuilt, readTree, runCli, tempDir } from '../helpers/cli.js';

const hosts = [
  { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
  { name: 'app1', address: '10.0.1.10', roles: ['app'] },
  { name: 'app2', address: '10.0.1.11', roles: ['app'] },
  { name: 'db1', address: '10.0.2.10', roles: ['db'] },
  { name: 'st1', address: '10.0.3.10', roles: ['storage'] },
  { name: 'st2', address: '10.0.3.11', roles: ['storage'] },
  { name: 'st3', address: '10.0.3.12', roles: ['storage'] },
];

describe.each(['nfs', 's3', 'glusterfs'])('hosts deploy.sh --dry-run (storage %s)', (storage) => {
  let dir = '';
  let tree: Map<string, string>;
  beforeAll(async () => {
    ensureBuilt();
    dir = await tempDir(`dryrun-${storage}`);
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), stringify({ version: 1, platform: 'hosts', loadBalancer: { kind: 'haproxy' }, storage, hosts }));
    const r = await runCli(['generate', '--out', 'b'], { cwd: dir });
    expect(r.code, r.output).toBe(0);
    tree = await readTree(path.join(dir, 'b'));
  });
  afterAll(() => cleanupTempDirs());

  it.each(hosts.map((h) => h.name))('%s', (host) => {
    const r = spawnSync('bash', [path.join(dir, 'b', 'deploy.sh'), host, '--dry-run'], { encoding: 'utf8', env: { ...process.env, SSH_OPTS: '-o BatchMode=yes' } });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    // every file of hosts/<host>/ is listed as installed (with its mode and owner), and nothing else
    const own = [...tree.keys()].filter((p) => p.startsWith(`hosts/${host}/`)).map((p) => p.slice(`hosts/${host}`.length)).sort();
    const listed = out.split('\n').flatMap((l) => /^would install (\/\S+) \(mode 0[0-7]{3} [a-z-]+:[a-z-]+\)$/.exec(l)?.[1] ?? []).sort();
    expect(listed).toEqual(own);
    // every unit file of the host is enabled and (re)started
    // (a .service started by a .timer is not started itself: its timer is enabled instead)
    const unitFiles = own.filter((p) => p.startsWith('/etc/systemd/system/') && /\.(service|mount|timer)$/.test(p)).map((p) => path.basename(p));
    const timed = new Set(unitFiles.filter((u) => u.endsWith('.timer')).map((u) => u.replace(/\.timer$/, '.service')));
    const units = unitFiles.filter((u) => !timed.has(u)).map((u) => u.replace(/\.service$/, ''));
    const missing = units.filter((u) => !out.includes(`would run: systemctl enable ${u} && systemctl restart ${u}`));
    expect(missing, `units copied onto ${host} but never enabled/started by deploy.sh`).toEqual([]);
    // secrets go to 0600 files, never printed
    const env = await_env(dir);
    for (const v of env.values()) if (v.length >= 20) expect(out).not.toContain(v);
    if (host.startsWith('app')) {
      expect(out).toMatch(/would write \/etc\/home-registry\/app\.env \(mode 0600\)/);
      if (storage !== 's3') expect(out).toContain('srv-home_registry-uploads.mount');
    }
    if (host === 'st1' && storage === 'nfs') expect(out).toContain('systemctl enable nfs-server');
    if (host === 'st1' && storage === 's3') expect(out).toContain('systemctl enable home-registry-minio');
    if (host === 'st3' && storage === 'glusterfs') expect(out).toContain('would run: /etc/home-registry/gluster-volume.sh');
    if (host === 'lb1') expect(out).toMatch(/would install packages: haproxy nftables socat/);
    // the firewall last, behind its rollback timer
    expect(out).toMatch(/would arm: removal of nftables table ha_gen_home_registry in 120 s[^\n]*\nwould run: systemctl enable home-registry-firewall/);
  });
});

function await_env(dir: string): Map<string, string> {
  const text = require_text(path.join(dir, 'b', '.env'));
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const hit = /^([A-Z_]+)=(.*)$/.exec(line);
    if (hit) m.set(hit[1]!, hit[2]!);
  }
  return m;
}

function require_text(p: string): string {
  return spawnSync('cat', [p], { encoding: 'utf8' }).stdout;
}
