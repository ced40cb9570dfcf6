/** Monitoring on compose and swarm (issue 17): the services, what they publish, the flows, and passwords only in files. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resolveSpec } from '../../src/spec/resolve.js';
import { checkRules } from '../../src/spec/rules.js';
import { deploymentOf, flowsOf } from '../../src/model/index.js';
import { render } from '../../src/render/index.js';
import { BACKUP_METRICS, rulesDoc } from '../../src/targets/monitoring/rules.js';

const spec = (values: Record<string, unknown>) => resolveSpec([{ source: 'file', values: structuredClone(values) }]).spec;
const ctx = { version: 'test', specFile: 'ha-gen.yaml' };
const receivers = { webhookUrl: 'https://hooks.example.com/a', webhookUser: 'alerts', email: { smarthost: 'smtp.example.com', from: 'a@example.com', to: ['b@example.com'], user: 'a@example.com' } };
type Svc = { ports?: Array<string | { published: number }>; networks?: string[]; deploy?: Record<string, any>; command?: string[]; entrypoint?: string[]; environment?: Record<string, string>; secrets?: unknown[]; volumes?: unknown[]; network_mode?: string; user?: string };
const SECRET_NAMES = ['ALERT_SMTP_PASSWORD', 'ALERT_WEBHOOK_PASSWORD'];

describe('monitoring on compose', () => {
  for (const kind of ['nginx', 'haproxy', 'caddy'] as const) {
    const s = spec({ tier: 'single-server', platform: 'compose', loadBalancer: { kind }, monitoring: { enabled: true, ...receivers } });
    const b = render(s, ctx);
    const compose = parse(b.files.get('docker-compose.yml')!.contents) as { services: Record<string, Svc> };
    const sv = compose.services;

    it(`${kind}: Prometheus, Alertmanager and the exporters run; only the two UIs are published, on 127.0.0.1`, () => {
      for (const n of ['prometheus', 'alertmanager', 'blackbox', 'node-exporter', 'postgres-exporter-db']) expect(sv[n], n).toBeDefined();
      expect(!!sv['nginx-exporter']).toBe(kind === 'nginx');
      const published = Object.entries(sv).flatMap(([n, v]) => (v.ports ?? []).map((p) => `${n} ${String(p)}`)).filter((p) => !p.startsWith(`${kind} `));
      expect(published.sort()).toEqual(['alertmanager 127.0.0.1:9093:9093', 'prometheus 127.0.0.1:9090:9090']);
      // The exporter shares nginx's network namespace: stub_status stays on nginx's localhost.
      if (kind === 'nginx') expect(sv['nginx-exporter']!.network_mode).toBe('service:nginx');
      // The postgres exporter connects through the member's socket as postgres: no password.
      expect(sv['postgres-exporter-db']!.environment!.DATA_SOURCE_NAME).toMatch(/host=\/var\/run\/postgresql .*user=postgres/);
      expect(sv['postgres-exporter-db']!.environment!.DATA_SOURCE_NAME).not.toMatch(/password/);
      expect(sv.db!.volumes).toContain('db-socket:/var/run/postgresql');
    });

    it(`${kind}: every scrape target and the Alertmanager are in the model's flows`, () => {
      const prom = parse(b.files.get('monitoring/prometheus.yml')!.contents) as { scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }>; relabel_configs?: Array<{ replacement?: string }> }>; alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> } };
      const flows = flowsOf(deploymentOf(s)).filter((f) => f.from === 'docker-host');
      const reached = new Set(flows.map((f) => `${f.address}:${f.port}`));
      const scraped = prom.scrape_configs.filter((c) => !c.relabel_configs).flatMap((c) => c.static_configs!.flatMap((x) => x.targets));
      expect(scraped.length).toBeGreaterThan(4);
      for (const t of scraped) expect(reached.has(t), t).toBe(true);
      expect(reached.has('blackbox:9115')).toBe(true);
      expect(flows.some((f) => f.purpose === 'alerts' && f.address === 'alertmanager' && f.port === 9093)).toBe(true);
      expect(prom.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual(['alertmanager:9093']);
    });

    it(`${kind}: the LB config has its metrics listener (blue and green)`, () => {
      const files = [...b.files.keys()].filter((f) => /^(nginx|haproxy|caddy)\/|^deploy\/blue-green\/.*(conf|cfg|Caddyfile)/.test(f) && !f.endsWith('.sh'));
      expect(files.length).toBeGreaterThan(1);
      for (const f of files) expect(b.files.get(f)!.contents, f).toContain('8405');
    });

    it(`${kind}: Alertmanager reads its passwords from files; no password in any file`, () => {
      const am = b.files.get('monitoring/alertmanager.yml')!.contents;
      expect(am).toContain('password_file: /run/alertmanager/webhook-password');
      expect(am).toContain('auth_password_file: /run/alertmanager/smtp-password');
      expect(sv.alertmanager!.environment).toEqual({ ALERT_SMTP_PASSWORD: expect.stringMatching(/^\$\{ALERT_SMTP_PASSWORD:\?/), ALERT_WEBHOOK_PASSWORD: expect.stringMatching(/^\$\{ALERT_WEBHOOK_PASSWORD:\?/) });
      expect(b.secrets.map((x) => x.name)).toEqual(expect.arrayContaining(SECRET_NAMES));
    });
  }

  it('the rules are the hosts generator\'s output (same alerts)', () => {
    const c = spec({ tier: 'single-server', platform: 'compose', monitoring: { enabled: true } });
    const names = (s: ReturnType<typeof spec>) => (rulesDoc(s, deploymentOf(s)).groups as Array<{ rules: Array<{ alert: string }> }>)[0]!.rules.map((r) => r.alert);
    expect(names(c)).toContain('AppInstanceDown');
    expect(names(c)).toContain('TargetDown');
    expect(checkRules(c).costs.join('\n')).not.toMatch(/platform hosts only/);
  });
});

describe('monitoring on swarm', () => {
  for (const [db, kind] of [['patroni', 'haproxy'], ['streaming', 'nginx'], ['patroni', 'caddy']] as const) {
    const s = spec({ tier: 'multi-server', platform: 'swarm', database: { ha: db }, storage: { kind: 'nfs', nfsServer: 'nfs1' }, loadBalancer: { kind }, monitoring: receivers });
    const b = render(s, ctx);
    const stack = parse(b.files.get('stack.yml')!.contents) as { services: Record<string, Svc>; networks: Record<string, unknown> };
    const sv = stack.services;

    it(`${db}/${kind}: two Prometheus and two Alertmanager peers, one per monitoring node; they deduplicate`, () => {
      for (const n of ['prometheus', 'alertmanager']) {
        expect(sv[n]!.deploy!.replicas).toBe(2);
        expect(sv[n]!.deploy!.placement).toEqual({ constraints: ['node.labels.monitoring == true'], max_replicas_per_node: 1 });
      }
      expect(sv.alertmanager!.command).toContain('--cluster.peer=tasks.alertmanager:9094');
      expect(sv.alertmanager!.networks).toEqual(['monitoring']);
      const prom = parse(b.files.get('monitoring/prometheus.yml')!.contents) as Record<string, any>;
      expect(prom.alerting.alert_relabel_configs).toEqual([{ action: 'labeldrop', regex: 'replica' }]);
      expect(prom.alerting.alertmanagers[0].dns_sd_configs[0]).toMatchObject({ names: ['tasks.alertmanager'], type: 'A', port: 9093 });
      expect(prom.global.external_labels.replica).toBe('${PROMETHEUS_REPLICA}');
      expect(sv.prometheus!.command).toContain('--enable-feature=expand-external-labels');
    });

    it(`${db}/${kind}: node exporter on every node, a postgres exporter beside each member, nothing published`, () => {
      expect(sv['node-exporter']!.deploy!.mode).toBe('global');
      const members = db === 'patroni' ? ['db1', 'db2', 'db3'] : db === 'streaming' ? ['db', 'db-replica1', 'db-replica2'] : ['db'];
      for (const m of members) {
        const e = sv[`postgres-exporter-${m}`]!;
        expect(e.deploy!.placement, m).toEqual(sv[m]!.deploy!.placement);
        expect(e.volumes).toContain(`${m}-socket:/var/run/postgresql`);
        expect(sv[m]!.volumes).toContain(`${m}-socket:/var/run/postgresql`);
      }
      for (const n of ['prometheus', 'alertmanager', 'blackbox', 'node-exporter', 'nginx-exporter', ...members.map((m) => `postgres-exporter-${m}`)]) expect(sv[n]?.ports, n).toBeUndefined();
      expect(stack.networks.monitoring).toBeDefined();
    });

    it(`${db}/${kind}: passwords as Swarm secrets read through *_file; none in the stack or configs`, () => {
      const am = b.files.get('monitoring/alertmanager.yml')!.contents;
      expect(am).toContain('password_file: /run/secrets/ALERT_WEBHOOK_PASSWORD');
      expect(am).toContain('auth_password_file: /run/secrets/ALERT_SMTP_PASSWORD');
      expect(sv.alertmanager!.secrets).toEqual([{ source: 'alert_smtp_password', target: 'ALERT_SMTP_PASSWORD' }, { source: 'alert_webhook_password', target: 'ALERT_WEBHOOK_PASSWORD' }]);
      expect(JSON.stringify(sv.alertmanager)).not.toMatch(/\$\{ALERT_/);
    });

    it(`${db}/${kind}: every monitoring flow's target is a service of the stack`, () => {
      const dep = deploymentOf(s);
      const flows = flowsOf(dep).filter((f) => f.purpose === 'metrics' || f.purpose === 'alerts');
      expect(flows.length).toBeGreaterThan(5);
      for (const f of flows) expect(sv[f.address.replace(/^tasks\./, '')], `${f.from} -> ${f.address}:${f.port}`).toBeDefined();
      // etcd's plain read-only metrics port: its client port takes only certificates of the bundle's CA.
      if (db === 'patroni') expect(flows.some((f) => f.address === 'tasks.etcd1' && f.port === 2381)).toBe(true);
    });
  }
});

describe('monitoring on compose/swarm: the backups leave the metric BackupFailed and BackupTooOld read', () => {
  type Doc = { services: Record<string, Svc & { image?: string; build?: unknown }>; volumes: Record<string, unknown> };
  const cases = [
    ['compose', 'single-server', 'none'], ['compose', 'single-server', 'streaming'], ['compose', 'single-server', 'patroni'],
    ['swarm', 'single-server', 'none'], ['swarm', 'multi-server', 'streaming'], ['swarm', 'multi-server', 'patroni'],
  ] as const;
  for (const [platform, tier, ha] of cases) {
    it(`${platform} ${ha}: every backup service writes into a volume the node exporter's textfile collector reads, and its image makes it writable`, () => {
      const s = spec({ tier, platform, database: { ha }, ...(tier === 'multi-server' ? { storage: { kind: 'nfs', nfsServer: 'nfs1' } } : {}), monitoring: { enabled: true } });
      const b = render(s, ctx);
      const main = parse(b.files.get(platform === 'compose' ? 'docker-compose.yml' : 'stack.yml')!.contents) as Doc;
      // A single database's backup service comes in the override file, deployed with the main one.
      const extra = ha === 'none' ? (parse(b.files.get(platform === 'compose' ? 'docker-compose.backup.yml' : 'stack.backup.yml')!.contents) as Doc) : { services: {}, volumes: {} };
      const services = { ...main.services, ...extra.services };
      const backups = Object.keys(services).filter((n) => /^backup(-|$)/.test(n));
      expect(backups.length, 'backup services').toBeGreaterThan(0);
      const node = services['node-exporter']!;
      const dir = node.command!.find((c) => c.startsWith('--collector.textfile.directory='))?.split('=')[1];
      expect(dir, 'the node exporter has a textfile collector').toBeTruthy();
      const mountAt = (svc: Svc, target: string) => (svc.volumes ?? []).filter((v): v is string => typeof v === 'string').map((v) => v.split(':')).find((v) => v[1] === target);
      const volume = mountAt(node, dir!)?.[0];
      expect(volume, 'a named volume at the textfile folder').toMatch(/^[a-z][a-z0-9-]+$/);
      expect(main.volumes[volume!]).toBeDefined();
      const script = b.files.get('backup/backup.sh')!.contents;
      const written = /^default_metricsDir='([^']+)'$/m.exec(script)?.[1];
      expect(written, 'backup.sh writes its metrics').toBeTruthy();
      for (const n of backups) {
        const m = mountAt(services[n]!, written!);
        expect(m?.[0], `${n} mounts ${volume} at ${written}`).toBe(volume);
        expect(m?.[2], `${n} writes there`).toBeUndefined();
        if (ha === 'none') expect(extra.volumes[volume!], 'the override declares the volume').toBeDefined();
        // Docker gives a new, empty volume the owner of the image folder it is mounted over: postgres.
        const dockerfile = b.files.get(services[n]!.image!.includes('patroni') ? 'patroni/Dockerfile' : 'backup/Dockerfile')!.contents;
        expect(dockerfile, `${n}'s image creates ${written} for postgres`).toContain(`install -d -o postgres -g postgres -m 0755 ${written}`);
      }
      if (ha === 'none') {
        // The override mounts the database's socket where the main file does: the same volume, or the postgres exporter is cut off.
        const socket = (svc?: Svc) => mountAt(svc ?? {}, '/var/run/postgresql')?.[0];
        expect(socket(extra.services.db), 'the override\'s db socket').toBe(socket(main.services['postgres-exporter-db']));
        expect(socket(extra.services.backup)).toBe(socket(main.services['postgres-exporter-db']));
      }
      if (platform === 'swarm') {
        // A local volume per node: the node exporter runs on every node, so on each member's node too.
        expect(node.deploy!.mode).toBe('global');
      }
    });
  }

  it('backup.sh run as the backup service runs it: success and failure land as the rules\' metrics; a stanza check that fails (database starting) is no failed backup', () => {
    const s = spec({ tier: 'single-server', platform: 'compose', database: { ha: 'streaming' }, monitoring: { enabled: true } });
    const script = render(s, ctx).files.get('backup/backup.sh')!.contents;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ha-gen-backup-metrics-'));
    try {
      const bin = path.join(dir, 'bin');
      const metrics = path.join(dir, 'textfile');
      fs.mkdirSync(bin);
      fs.mkdirSync(metrics);
      fs.writeFileSync(path.join(dir, 'backup.sh'), script);
      fs.writeFileSync(path.join(bin, 'psql'), '#!/bin/sh\necho f\n', { mode: 0o755 });
      // pgBackRest's exit status comes from the test: PGBR_FAIL names the command that fails.
      fs.writeFileSync(path.join(bin, 'pgbackrest'), '#!/bin/sh\nfor a; do case "$a" in "$PGBR_FAIL") exit 1;; esac; done\nexit 0\n', { mode: 0o755 });
      const run = (args: string[], fail = '') => spawnSync('bash', [path.join(dir, 'backup.sh'), ...args], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, HA_GEN_METRICS_DIR: metrics, PGBR_FAIL: fail } });
      const value = (m: string) => {
        const f = path.join(metrics, `${m}.prom`);
        return fs.existsSync(f) ? Number(/^\S+ (\d+)$/m.exec(fs.readFileSync(f, 'utf8'))?.[1]) : undefined;
      };
      expect(run(['stanza'], 'stanza-create').status).not.toBe(0);
      expect(fs.readdirSync(metrics), 'a failed stanza check leaves no metric').toEqual([]);
      expect(run(['full']).status).toBe(0);
      expect(value(BACKUP_METRICS.success)).toBeGreaterThan(1.7e9);
      expect(value(BACKUP_METRICS.failure)).toBeUndefined();
      expect(run(['full'], 'backup').status).not.toBe(0);
      expect(value(BACKUP_METRICS.failure)).toBeGreaterThanOrEqual(value(BACKUP_METRICS.success)!);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
