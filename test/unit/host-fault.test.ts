/**
 * chaos/host-fault.sh (platform hosts): the host-level faults of the whole-host lab on real hosts.
 * Its --dry-run names the host's address and what it would do, and connects to nothing (ssh on
 * PATH here fails loudly); it is shell-checked, listed in RUNBOOK.md's rehearsal step, and only
 * rendered where there are hosts.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { render } from '../../src/render/index.js';
import { resolveSpec } from '../../src/spec/resolve.js';

const ctx = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };
const hosts = [
  { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
  { name: 'lb2', address: '10.0.1.6', roles: ['lb'] },
  { name: 'app1', address: '10.0.1.10', roles: ['app'] },
  { name: 'app2', address: '10.0.1.11', roles: ['app'] },
  { name: 'db1', address: '10.0.2.10', roles: ['db', 'etcd'] },
  { name: 'db2', address: '10.0.2.11', roles: ['db', 'etcd'] },
  { name: 'db3', address: '10.0.2.12', roles: ['db', 'etcd'] },
  { name: 'st1', address: '10.0.3.10', roles: ['storage'] },
  { name: 'st2', address: '10.0.3.11', roles: ['storage'] },
  { name: 'st3', address: '10.0.3.12', roles: ['storage'] },
];
function bundle(values: Record<string, unknown>) {
  const { spec } = resolveSpec([{ source: 'file', values: { tier: 'multi-server', ...values } }]);
  return render(spec, ctx);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'host-fault-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
// Any ssh (or systemctl, nft, docker) called by a dry run fails the test.
const bin = path.join(work, 'bin');
mkdirSync(bin);
for (const tool of ['ssh', 'systemctl', 'nft', 'docker', 'virsh']) {
  writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "dry run called ${tool} $*" >&2\nexit 99\n`);
  chmodSync(path.join(bin, tool), 0o755);
}

describe('chaos/host-fault.sh', () => {
  const b = bundle({ platform: 'hosts', hosts, storage: 'glusterfs', loadBalancer: { kind: 'haproxy', floatingAddress: '10.0.1.4' }, database: { ha: 'patroni' } });
  const file = b.files.get('chaos/host-fault.sh')!;
  const script = path.join(work, 'host-fault.sh');
  writeFileSync(script, file.contents, { mode: 0o755 });
  const dry = (...args: string[]) => {
    const r = spawnSync('bash', [script, ...args, '--dry-run'], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, LANG: 'C' } });
    expect(r.stderr, `${args.join(' ')}: stderr`).not.toMatch(/dry run called/);
    expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };

  it('is a checked, executable shell script in the runbook rehearsal step', () => {
    expect(file.mode).toBe(0o755);
    expect(file.checks).toEqual([{ tool: 'shell' }]);
    const runbook = b.files.get('RUNBOOK.md')!.contents;
    const rehearse = runbook.slice(runbook.indexOf('## 7.'));
    for (const f of ['poweroff', 'partition', 'freeze']) expect(rehearse).toMatch(new RegExp(`chaos/host-fault\\.sh ${f} \\S+`));
    expect(rehearse).toContain('--dry-run');
  });

  it('poweroff: names the address and the forced power-off over SSH, or the hypervisor command', () => {
    const out = dry('poweroff', 'db2');
    expect(out).toContain('poweroff db2 (10.0.2.11)');
    expect(out).toContain('would run: ssh root@10.0.2.11 systemctl poweroff --force --force');
    expect(out).toContain('smoke.sh --lb-only with LB_HOST=10.0.1.4');
    expect(out).toMatch(/wait for db2 to be powered on .*smoke\.sh to pass/);
    const viaHypervisor = spawnSync('bash', [script, 'poweroff', 'app1', '--dry-run'], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, POWEROFF_CMD: 'virsh destroy "$HOST"', POWERON_CMD: 'virsh start "$HOST"' } });
    expect(viaHypervisor.status, viaHypervisor.stderr).toBe(0);
    expect(viaHypervisor.stdout).toContain('would run here: HOST=app1 ADDRESS=10.0.1.10 virsh destroy "$HOST"');
    expect(viaHypervisor.stdout).not.toContain('systemctl poweroff');
  });

  it('partition: an nftables table that drops all but SSH from the operator, healed by a timer on the host', () => {
    const out = dry('partition', 'db1', '--seconds', '45');
    expect(out).toContain('partition db1 (10.0.2.10)');
    expect(out).toContain('would arm on 10.0.2.10: systemd-run --unit=ha-gen-chaos-heal --on-active=45s nft delete table inet ha_gen_chaos');
    expect(out).toMatch(/type filter hook input priority -10; policy drop;/);
    expect(out).toMatch(/type filter hook output priority -10; policy drop;/);
    expect(out).toMatch(/ip saddr OP tcp dport 22 accept/);
    expect(out).toMatch(/would heal after 45s/);
  });

  it("freeze: SIGSTOP of the host's service units, docker pause of its containers, resumed by a timer", () => {
    const db = dry('freeze', 'db3');
    expect(db).toContain('freeze db3 (10.0.2.12)');
    // the monitoring exporters freeze with the rest of the host (multi-server: monitoring is on)
    expect(db).toContain('would run on 10.0.2.12: systemctl kill --signal=SIGSTOP etcd patroni prometheus-node-exporter prometheus-postgres-exporter');
    expect(db).toContain("systemd-run --unit=ha-gen-chaos-thaw --on-active=30s sh -c 'systemctl kill --signal=SIGCONT etcd patroni prometheus-node-exporter prometheus-postgres-exporter'");
    const app = dry('freeze', 'app2');
    expect(app).toContain('freeze app2 (10.0.1.11)');
    expect(app).toMatch(/systemctl kill --signal=SIGSTOP \S*uploads\.mount haproxy-db prometheus-node-exporter prometheus-blackbox-exporter prometheus-alertmanager prometheus; docker pause home-registry-app/);
    // timers and the firewall's one-shot load have no process to stop
    expect(app + db).not.toMatch(/SIGSTOP[^\n]*(\.timer|firewall)/);
  });

  it('db-leader and lb-active are found on the hosts (dry run: shown for the first candidate); unknown hosts are refused', () => {
    expect(dry('partition', 'db-leader')).toMatch(/pg_is_in_recovery\(\) is f among: db1 db2 db3[\s\S]*partition db1 \(10\.0\.2\.10\)/);
    expect(dry('poweroff', 'lb-active')).toMatch(/holds 10\.0\.1\.4[\s\S]*poweroff lb1 \(10\.0\.1\.5\)/);
    const bad = spawnSync('bash', [script, 'freeze', 'db9', '--dry-run'], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown host 'db9'/);
    const secs = spawnSync('bash', [script, 'freeze', 'db1', '--seconds', '2', '--dry-run'], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
    expect(secs.status).toBe(2);
  });

  it('is rendered on platform hosts only', () => {
    expect(bundle({ platform: 'swarm', database: { ha: 'patroni' } }).files.has('chaos/host-fault.sh')).toBe(false);
  });
});
