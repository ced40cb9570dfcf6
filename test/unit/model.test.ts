/**
 * The deployment model: the three defects it was built to end (claims and files from different
 * code), the flows of `plan --json`, and the failure analysis computed from them.
 */
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../src/spec/resolve.js';
import { render } from '../../src/render/index.js';
import { buildPlan } from '../../src/plan/index.js';
import { deploymentOf, flowsOf } from '../../src/model/index.js';
import { PURPOSES } from '../../src/model/types.js';
import { PATRONI_HOSTS } from '../helpers/presets.js';

const ctx = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };
const TWO_LBS = [PATRONI_HOSTS[0]!, { name: 'lb2', address: '10.0.1.6', roles: ['lb'] }, ...PATRONI_HOSTS.slice(1)];
const spec = (values: Record<string, unknown>) => resolveSpec([{ source: 'file', values: { tier: 'multi-server', storage: 'nfs', platform: 'hosts', ...values } }]).spec;
const deployUrls = (deploySh: string) => [...deploySh.matchAll(/DATABASE_URL "postgres:\/\/app:\$\{APP_DB_PASSWORD\}@([^:]+):(\d+)\//g)].map((m) => `${m[1]}:${m[2]}`);

describe('defect 1: plan\'s "whole server lost" and every DATABASE_URL come from the same model', () => {
  it('two lb hosts with the endpoint on the lb hosts: the apps connect to lb1 only, and plan names lb1 as fatal', () => {
    const s = spec({ hosts: TWO_LBS, database: { ha: 'patroni', endpoint: 'lb-hosts' } });
    const plan = buildPlan(s);
    const deploySh = render(s, ctx).files.get('deploy.sh')!.contents;
    // the files: every app's DATABASE_URL names lb1's address
    expect(new Set(deployUrls(deploySh))).toEqual(new Set(['10.0.1.5:5000']));
    // the claim agrees: losing lb1 cuts every app off from the database
    expect(plan.failures.find((f) => f.failure === 'a whole server is lost')?.survived).toBe('no');
    const lb1 = plan.hostLosses.find((l) => l.host === 'lb1')!;
    expect(lb1.survived).toBe('no');
    expect(lb1.effects.join('\n')).toMatch(/app1, app2: the app connects to its database endpoint \(DATABASE_URL\) has no other target than lb1/);
    expect(plan.hostLosses.find((l) => l.host === 'lb2')?.survived).not.toBe('no');
  });

  it('the default puts the endpoint on every app host: each app connects to its own host, and no single host loss cuts an app off', () => {
    const s = spec({ hosts: TWO_LBS, database: { ha: 'patroni' } });
    const deploySh = render(s, ctx).files.get('deploy.sh')!.contents;
    expect(deployUrls(deploySh)).toEqual(['10.0.1.10:5000', '10.0.1.11:5000']);
    const plan = buildPlan(s);
    for (const l of plan.hostLosses) expect(l.effects.join('\n')).not.toMatch(/db-write|DATABASE_URL/);
    expect(plan.flows).toContainEqual({ from: 'app1', to: 'app1', address: '10.0.1.10', port: 5000, proto: 'tcp', purpose: 'db-write' });
  });
});

describe('defect 2: plan lists every unit deploy.sh enables', () => {
  it('the dump timer, the ACME timer and the uploads mount are services in plan on the hosts deploy.sh starts them', () => {
    const s = spec({ hosts: TWO_LBS, database: { ha: 'patroni' }, domain: 'registry.example.com', loadBalancer: { kind: 'haproxy', tls: 'acme' } });
    const plan = buildPlan(s);
    const names = (h: string) => plan.hosts.find((x) => x.name === h)!.services.map((x) => x.name);
    expect(names('db1')).toEqual(expect.arrayContaining(['etcd', 'patroni', 'home-registry-backup.timer', 'home-registry-dump.timer']));
    expect(names('lb1')).toEqual(expect.arrayContaining(['haproxy', 'home-registry-acme.timer']));
    expect(names('app1')).toEqual(expect.arrayContaining(['srv-home_registry-uploads.mount', 'haproxy-db', 'home-registry-app']));
  });
});

describe('defect 3: the bundle README follows database.endpointPorts', () => {
  it('write 6432 / read 6433 appear in the README, 5000/5001 do not', () => {
    const s = spec({ hosts: PATRONI_HOSTS, database: { ha: 'patroni', endpointPorts: { write: 6432, read: 6433, stats: 6434 } } });
    const readme = render(s, ctx).files.get('README.md')!.contents;
    expect(readme).toMatch(/HAProxy routing 6432 to the Patroni leader, 6433 to replicas/);
    expect(readme).toMatch(/`10\.0\.1\.10:6432`/);
    expect(readme).not.toMatch(/\b500[01]\b/);
  });
});

describe('flows (plan --json)', () => {
  it('each flow has the contract\'s fields and a known purpose; from and to are model hosts, clients or floating', () => {
    for (const values of [{ hosts: TWO_LBS, database: { ha: 'patroni' } }, { hosts: PATRONI_HOSTS.map((h) => ({ ...h, roles: h.roles.filter((r) => r !== 'etcd') })), database: { ha: 'streaming' } }]) {
      const s = spec(values);
      const dep = deploymentOf(s);
      const names = new Set(dep.hosts.map((h) => h.name));
      const flows = flowsOf(dep);
      expect(flows.length).toBeGreaterThan(10);
      for (const f of flows) {
        expect(Object.keys(f).sort()).toEqual(['address', 'from', 'port', 'proto', 'purpose', 'to']);
        expect(PURPOSES).toContain(f.purpose);
        expect(f.from === 'clients' || names.has(f.from)).toBe(true);
        expect(f.to === 'floating' || names.has(f.to)).toBe(true);
        // the address of a host target is that host's address
        if (f.to !== 'floating') expect(f.address).toBe(dep.hosts.find((h) => h.name === f.to)!.address);
      }
      // every listener some flow reaches is a port of a service on the target host
      for (const f of flows.filter((x) => x.proto !== 'vrrp')) {
        const holders = f.to === 'floating' ? dep.floating.find((x) => x.address === f.address)!.holders : [f.to];
        const ports = dep.hosts.filter((h) => holders.includes(h.name)).flatMap((h) => h.services.flatMap((x) => x.ports.map((p) => p.port)));
        expect(ports, `${f.from} -> ${f.to}:${f.port} (${f.purpose})`).toContain(f.port);
      }
    }
  });

  it('streaming: losing the primary needs a person, losing the standby does not; Patroni: any db host is survived', () => {
    const streaming = buildPlan(spec({ hosts: PATRONI_HOSTS.map((h) => ({ ...h, roles: h.roles.filter((r) => r !== 'etcd') })), database: { ha: 'streaming' } }));
    expect(streaming.hostLosses.find((l) => l.host === 'db1')?.survived).toBe('manual');
    expect(streaming.hostLosses.find((l) => l.host === 'db2')?.survived).toBe('yes');
    const patroni = buildPlan(spec({ hosts: PATRONI_HOSTS, database: { ha: 'patroni' } }));
    for (const h of ['db1', 'db2', 'db3', 'app1', 'app2']) expect(patroni.hostLosses.find((l) => l.host === h)?.survived, h).toBe('yes');
  });

  it('an etcd quorum of 3 survives one member; Patroni on 1 etcd host does not survive losing it', () => {
    const one = PATRONI_HOSTS.map((h) => ({ ...h, roles: h.name === 'db1' ? h.roles : h.roles.filter((r) => r !== 'etcd') }));
    const plan = buildPlan(spec({ hosts: one, database: { ha: 'patroni' } }));
    expect(plan.hostLosses.find((l) => l.host === 'db1')?.survived).toBe('no');
    expect(plan.hostLosses.find((l) => l.host === 'db1')?.effects.join('\n')).toMatch(/etcd.*majority/);
  });
});

describe('the app image is pulled at deploy time, not at every start', () => {
  it('the app unit has no docker pull; deploy.sh pulls the spec\'s image on each app host', () => {
    const b = render(spec({ hosts: PATRONI_HOSTS, database: { ha: 'patroni' } }), ctx);
    const unit = b.files.get('hosts/app1/etc/systemd/system/home-registry-app.service')!.contents;
    expect(unit).not.toMatch(/docker pull/);
    expect(b.files.get('deploy.sh')!.contents).toContain("'docker pull ghcr.io/victorytek/home-registry:latest'");
  });
});
