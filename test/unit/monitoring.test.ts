/** Monitoring (issue 17): the spec section, the model's placement, ports and flows, and the files. */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resolveSpec } from '../../src/spec/resolve.js';
import { SpecError } from '../../src/errors.js';
import { deploymentOf, flowsOf } from '../../src/model/index.js';
import { render } from '../../src/render/index.js';
import { alertDefs } from '../../src/targets/monitoring/rules.js';
import { firewallRules } from '../../src/targets/firewall/index.js';
import { PATRONI_HOSTS } from '../helpers/presets.js';

const HOSTS = [...PATRONI_HOSTS, { name: 'lb2', address: '10.0.1.6', roles: ['lb'] }, { name: 'nfs1', address: '10.0.3.10', roles: ['storage'] }];
const spec = (values: Record<string, unknown>) => resolveSpec([{ source: 'file', values: structuredClone(values) }]).spec;
const multi = (extra: Record<string, unknown> = {}) => spec({ tier: 'multi-server', platform: 'hosts', storage: { kind: 'nfs' }, hosts: HOSTS, ...extra });
const ctx = { version: 'test', specFile: 'ha-gen.yaml' };

describe('monitoring spec', () => {
  it('is on for multi-server and multi-region, off for single-server', () => {
    expect(multi().monitoring.enabled).toBe(true);
    expect(spec({ tier: 'multi-region' }).monitoring.enabled).toBe(true);
    expect(spec({ tier: 'single-server' }).monitoring.enabled).toBe(false);
    expect(multi({ monitoring: { enabled: false } }).monitoring.enabled).toBe(false);
  });

  it.each([
    ['webhookUrl', 'http://x.example.com/hook?token=1'],
    ['webhookUrl', 'http://x.example.com/a b'],
    ['webhookUrl', 'http://x.example.com/\n- url: http://evil'],
    ['webhookUrl', 'ftp://x.example.com/'],
    ['webhookUrl', 'http://user:pw@x.example.com/'],
    ['webhookUrl', 'http://x.example.com:70000/'],
    ['webhookUser', 'a"b'],
  ])('refuses %s %j (nothing reaches alertmanager.yml that could add a directive)', (k, v) => {
    expect(() => multi({ monitoring: { webhookUrl: 'http://x.example.com/', [k]: v } })).toThrow(SpecError);
  });

  it('refuses an e-mail relay with a bad host, port or address', () => {
    const email = { smarthost: 'smtp.example.com', from: 'a@example.com', to: ['b@example.com'] };
    expect(multi({ monitoring: { email } }).monitoring.email!.port).toBe(587);
    expect(() => multi({ monitoring: { email: { ...email, smarthost: 'smtp.example.com:25' } } })).toThrow(SpecError);
    expect(() => multi({ monitoring: { email: { ...email, port: 0 } } })).toThrow(SpecError);
    expect(() => multi({ monitoring: { email: { ...email, to: ['b@example.com\nbcc: x@y.z'] } } })).toThrow(SpecError);
    expect(() => multi({ monitoring: { email: { ...email, to: [] } } })).toThrow(SpecError);
  });

  it('refuses a webhook user without a URL, and a port that clashes with a monitoring port', () => {
    const issues = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return JSON.stringify((e as SpecError).issues);
      }
      return '';
    };
    expect(issues(() => multi({ monitoring: { webhookUser: 'alerts' } }))).toMatch(/monitoring\.webhookUser/);
    expect(issues(() => multi({ app: { port: 9100 } }))).toMatch(/app\.port.*node exporter/);
  });
});

describe('monitoring model (platform hosts)', () => {
  const s = multi({ loadBalancer: { kind: 'haproxy', floatingAddress: '10.0.1.4' } });
  const dep = deploymentOf(s);
  const mon = dep.monitoring!;
  const flows = flowsOf(dep);

  it('two Prometheus and two Alertmanager peers on two different hosts; exporters where they watch', () => {
    expect(mon.prometheus).toEqual(['app1', 'app2']);
    expect(mon.alertmanager).toEqual(['app1', 'app2']);
    const has = (host: string, id: string) => dep.hosts.find((h) => h.name === host)!.services.some((x) => x.id === id);
    for (const h of HOSTS) expect(has(h.name, 'node-exporter'), h.name).toBe(true);
    for (const h of ['db1', 'db2', 'db3']) expect(has(h, 'postgres-exporter')).toBe(true);
    expect(has('lb1', 'postgres-exporter')).toBe(false);
    const single = spec({ tier: 'single-server', platform: 'hosts', storage: { kind: 'nfs' }, hosts: [{ name: 'one', address: '10.0.1.10', roles: ['lb', 'app', 'db', 'storage'] }, { name: 'two', address: '10.0.1.11', roles: ['app'] }], monitoring: { enabled: true } });
    expect(deploymentOf(single).monitoring!.prometheus).toEqual(['one']);
    expect(deploymentOf(single).monitoring!.alertmanager).toEqual(['one']);
  });

  it('every monitoring port is internal (the host address) or local, never public', () => {
    const ports = dep.hosts.flatMap((h) => h.services.filter((x) => x.kind === 'monitoring').flatMap((x) => x.ports.map((p) => ({ h, p }))));
    expect(ports.length).toBeGreaterThan(10);
    for (const { h, p } of ports) {
      expect(p.exposure).not.toBe('public');
      expect([h.address, '127.0.0.1']).toContain(p.bind);
    }
  });

  it('every scrape is a metrics flow and every notification and gossip an alerts flow', () => {
    for (const j of mon.jobs) for (const t of j.targets) for (const p of mon.prometheus) expect(flows, `${p} scrapes ${j.job} on ${t.to}`).toContainEqual({ from: p, to: t.to, address: t.address, port: t.port, proto: 'tcp', purpose: 'metrics' });
    for (const p of mon.prometheus) for (const a of mon.alertmanager) expect(flows).toContainEqual(expect.objectContaining({ from: p, to: a, port: 9093, purpose: 'alerts' }));
    expect(flows).toContainEqual(expect.objectContaining({ from: 'app1', to: 'app2', port: 9094, proto: 'udp', purpose: 'alerts' }));
    expect(flows).toContainEqual(expect.objectContaining({ from: 'app2', to: 'app1', port: 9094, proto: 'tcp', purpose: 'alerts' }));
  });

  it('the firewall lets the Prometheus hosts in to the exporters and nobody else', () => {
    const db = firewallRules(s, 'db1', dep).input.find((r) => / dport 9187$/.test(r.rule))!;
    expect(db.rule).toBe('ip saddr { 10.0.1.10, 10.0.1.11 } tcp dport 9187');
    const lb = firewallRules(s, 'lb1', dep).input.find((r) => / dport 8405$/.test(r.rule))!;
    expect(lb.rule).toBe('ip saddr { 10.0.1.10, 10.0.1.11 } tcp dport 8405');
    expect(firewallRules(s, 'app1', dep).input.map((r) => r.rule)).not.toContainEqual(expect.stringMatching(/docker0.*dport 9100/));
  });
});

describe('monitoring files', () => {
  const s = multi({ loadBalancer: { kind: 'haproxy', floatingAddress: '10.0.1.4' }, monitoring: { webhookUrl: 'https://alerts.example.com/hook', webhookUser: 'alerts', email: { smarthost: 'smtp.example.com', from: 'ha@example.com', to: ['ops@example.com'], user: 'ha@example.com' } } });
  const b = render(s, ctx);
  const file = (p: string) => b.files.get(p)!.contents;

  it('both Prometheus send to every Alertmanager; the replica label is dropped from alerts', () => {
    for (const [me, other] of [['app1', 'app2'], ['app2', 'app1']]) {
      const p = parse(file(`hosts/${me}/etc/prometheus/prometheus.yml`));
      expect(p.global.external_labels.replica).toBe(me);
      expect(p.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['10.0.1.10:9093', '10.0.1.11:9093']);
      expect(p.alerting.alert_relabel_configs).toEqual([{ action: 'labeldrop', regex: 'replica' }]);
      expect(file(`hosts/${me}/etc/systemd/system/prometheus-alertmanager.service`)).toContain(`--cluster.peer=${other === 'app1' ? '10.0.1.10' : '10.0.1.11'}:9094`);
    }
  });

  it('receivers from the spec; passwords through files, never inline', () => {
    const am = parse(file('hosts/app1/etc/prometheus/alertmanager.yml'));
    const r = am.receivers[0];
    expect(r.webhook_configs[0].url).toBe('https://alerts.example.com/hook');
    expect(r.webhook_configs[0].http_config.basic_auth.password_file).toMatch(/^\/run\/credentials\//);
    expect(r.email_configs[0].auth_password_file).toMatch(/^\/run\/credentials\//);
    expect(JSON.stringify(am)).not.toMatch(/password":/);
    expect(b.secrets.map((x) => x.name)).toEqual(expect.arrayContaining(['ALERT_SMTP_PASSWORD', 'ALERT_WEBHOOK_PASSWORD']));
    expect(file('deploy.sh')).toContain('alertmanager-smtp-password');
  });

  it('every alert of the issue has a rule, a runbook section and a firing and a quiet test', () => {
    const names = alertDefs(s, deploymentOf(s)).map((a) => a.alert);
    expect(names).toEqual(expect.arrayContaining(['AppInstanceDown', 'LbBackendDown', 'LbAllBackendsDown', 'FrontDoorUnreachable', 'PatroniNoLeader', 'PatroniFailover', 'StandbyNotStreaming', 'ReplicationLagHigh', 'ReplicationSlotRetainingWal', 'WalArchivingFailing', 'BackupTooOld', 'BackupFailed', 'DiskFillingUp', 'DiskAlmostFull', 'HighErrorRatio', 'EtcdNoLeader', 'EtcdQuorumLost', 'FloatingAddressNotHeld', 'TargetDown']));
    const rules = parse(file('hosts/app1/etc/prometheus/ha-gen.rules.yml')).groups[0].rules as Array<{ alert: string; annotations: Record<string, string> }>;
    const tests = parse(file('hosts/app1/etc/prometheus/ha-gen.rules.test.yml')).tests as Array<{ name: string }>;
    const runbook = file('RUNBOOK.md');
    for (const r of rules) {
      expect(r.annotations.description).not.toMatch(/\n/);
      expect(r.annotations.runbook_url).toBe(`RUNBOOK.md#${r.alert.toLowerCase()}`);
      expect(runbook).toContain(`### ${r.alert}\n`);
      expect(runbook).toContain(`[${r.alert}](#${r.alert.toLowerCase()})`);
      expect(tests.map((t) => t.name)).toEqual(expect.arrayContaining([`${r.alert} fires`, `${r.alert} stays quiet`]));
    }
    expect(rules.map((r) => r.alert).sort()).toEqual([...names].sort());
  });

  it('the LB exposes its metrics on the private address only', () => {
    expect(file('hosts/lb1/etc/haproxy/haproxy.cfg')).toMatch(/frontend metrics\n {4}bind 10\.0\.1\.5:8405\n[\s\S]*use-service prometheus-exporter/);
    const nginx = render(multi({ loadBalancer: { kind: 'nginx' } }), ctx).files.get('hosts/lb1/etc/nginx/nginx.conf')!.contents;
    expect(nginx).toMatch(/listen 127\.0\.0\.1:8405;[\s\S]*stub_status;/);
    const caddy = render(multi({ loadBalancer: { kind: 'caddy' } }), ctx).files.get('hosts/lb1/etc/caddy/Caddyfile')!.contents;
    expect(caddy).toMatch(/http:\/\/:8405 \{\n\tbind 10\.0\.1\.5\n\tmetrics \/metrics/);
  });

  // The metrics listener as each LB writes it (the lines above), whatever address it binds.
  const LISTENER = { haproxy: /frontend metrics\n {4}bind \S+:8405\n[\s\S]*use-service prometheus-exporter/, nginx: /listen \S+:8405;[\s\S]*stub_status;/, caddy: /:8405 \{\n\tbind \S+\n\tmetrics \/metrics/ } as const;
  for (const kind of ['haproxy', 'nginx', 'caddy'] as const) {
    for (const [platform, tier] of [['hosts', 'multi-server'], ['compose', 'single-server'], ['swarm', 'multi-server']] as const) {
      it(`${platform} ${kind}: every LB config the bundle writes has the metrics listener (blue and green: a blue-green switch keeps the LB's metrics)`, () => {
        const s = platform === 'hosts' ? multi({ loadBalancer: { kind } }) : spec({ tier, platform, loadBalancer: { kind }, ...(tier === 'multi-server' ? { storage: { kind: 'nfs', nfsServer: 'nfs1' } } : {}), monitoring: { enabled: true } });
        const b = render(s, ctx);
        // Every file the LB itself reads (checked by its own tool), not the database endpoint's HAProxy.
        const configs = [...b.files.entries()].filter(([p, f]) => f.checks.some((c) => c.tool === kind) && !/haproxy-db\.cfg$/.test(p)).map(([p]) => p);
        expect(configs.filter((p) => p.includes('blue-green')).length, 'green configs').toBeGreaterThan(0);
        expect(configs.filter((p) => !p.includes('blue-green')).length, 'blue configs').toBeGreaterThan(0);
        for (const p of configs) expect(b.files.get(p)!.contents, p).toMatch(LISTENER[kind]);
      });
    }
  }

  it('the backup script leaves its last success and failure for the textfile collector', () => {
    const sh = file('hosts/db1/usr/local/sbin/home-registry-backup');
    expect(sh).toContain('ha_gen_backup_last_$1_timestamp_seconds');
    expect(sh).toMatch(/backup\nrecord success\n/);
    expect(file('hosts/db1/etc/systemd/system/home-registry-backup.service')).toContain('ExecStartPre=+/usr/bin/install -d -o postgres -g postgres -m 0755 /var/lib/home-registry-textfile');
    expect(file('hosts/db1/etc/systemd/system/prometheus-node-exporter.service')).toContain('--collector.textfile.directory=/var/lib/home-registry-textfile');
  });
});
