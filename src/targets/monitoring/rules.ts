/**
 * The alert rules and, from the same table, their promtool unit tests: for every alert one input
 * that must fire it (with its exact labels and annotations) and one that must not. A rule whose
 * expression drifts from the metric it watches fails its firing test in `ha-gen validate`.
 */
import type { Spec } from '../../spec/schema.js';
import type { Deployment } from '../../model/index.js';

export const RULES_FILE = 'ha-gen.rules.yml';
export const RULES_TEST_FILE = 'ha-gen.rules.test.yml';
/** The textfile collector's metrics the backup script leaves behind. */
export const BACKUP_METRICS = { success: 'ha_gen_backup_last_success_timestamp_seconds', failure: 'ha_gen_backup_last_failure_timestamp_seconds' } as const;
/** Backups run every day (full or differential): older than this, one was missed. */
export const BACKUP_MAX_AGE_HOURS = 26;
/** File systems that are not disks (their fill level says nothing about the host's storage). */
const FS = 'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs|devtmpfs"';

interface Series {
  series: string;
  values: string;
}

export interface AlertDef {
  alert: string;
  severity: 'critical' | 'warning';
  expr: string;
  for: string;
  /** One line; may use {{ $labels.x }} (the tests fill it in from `labels`). */
  description: string;
  /** The input that fires it, when, and the alert's labels then (without severity). */
  fire: { series: Series[]; at: string; labels: Record<string, string> };
  /** An input that must not fire it (at the same time). */
  quiet: Series[];
}

/** What to do first, for RUNBOOK.md's section of each alert. */
export const ALERT_ACTIONS: Record<string, string> = {
  AppInstanceDown: "Look at the instance's logs (step 2, Application); restart it, or replace the host (step 4, Bring app instances back).",
  LbBackendDown: 'Same as AppInstanceDown: the load balancer already routes around it; find out why the instance fails its health check.',
  LbAllBackendsDown: 'Outage: every instance is out. Check the app logs and its database connection first (step 2), then bring instances back (step 4).',
  FrontDoorUnreachable: 'Run ./smoke.sh --lb-only; check the lb hosts, their load balancer unit and the floating address (step 2, Infrastructure; step 4, Load balancer / DNS).',
  HighErrorRatio: 'The app answers errors: read its logs (step 2); a bad release is rolled back with deploy/rolling-update.sh and the previous image.',
  FloatingAddressNotHeld: 'Check keepalived on the lb hosts (systemctl status keepalived, journalctl -u keepalived) and that each lb host answers /lb-health.',
  PostgresDown: 'Check the database service on that host (step 2, Database). With Patroni a standby takes over by itself; rejoin this member once it is back.',
  PatroniNoLeader: 'Outage for writes: check etcd (EtcdQuorumLost), then patronictl list (step 2, Database); promote by hand only as step 4 says.',
  PatroniFailover: 'A new leader took over: confirm with patronictl list, find why the old one left (its host, its logs), and take a fresh full backup (step 6).',
  StandbyNotStreaming: "Check the standby's logs and its connection to the primary (firewall, pg_hba, replication password); Patroni re-clones a member it cannot rewind.",
  ReplicationLagHigh: "The standby cannot keep up (disk, network, or a long query on it); a failover now would lose the lag. Check its host's load and the network.",
  ReplicationSlotRetainingWal: 'A slot of a standby that is gone or stuck keeps WAL: bring the standby back, or drop the slot (SELECT pg_drop_replication_slot(...)) if that member is gone for good.',
  WalArchivingFailing: 'Run the archive_command by hand as postgres (pgbackrest ... check) and fix the repository (disk full, S3 keys, network); WAL piles up until it works.',
  BackupFailed: "Read the backup service's journal on the primary (step 6 shows pgbackrest info) and run the backup again by hand.",
  BackupTooOld: 'Check the backup timer on the database hosts (systemctl list-timers) and pgbackrest info; run a backup by hand.',
  DiskFillingUp: 'Find what grows (du -xh --max-depth 2 on that file system): WAL (archiving or a slot), logs, uploads or backups; add space before it is full.',
  DiskAlmostFull: 'As DiskFillingUp; PostgreSQL stops accepting writes when its disk is full.',
  CertificateExpiringSoon: 'Renewal stopped: check the acme timer and its journal on the lb hosts, or replace the certificate files (tls: files) and reload the load balancer.',
  EtcdNoLeader: 'Check the etcd members (etcdctl endpoint status --cluster) and the network between them.',
  EtcdQuorumLost: 'Bring etcd members back first: without a majority Patroni cannot keep or elect a leader.',
  TargetDown: 'The service or its host is down, or the firewall/network cuts Prometheus off: check the host (step 2, Infrastructure) and the unit named by the job.',
};

/** RUNBOOK.md's anchor for an alert's section (GitHub's heading slugs: lowercase). */
export const runbookAnchor = (alert: string) => alert.toLowerCase();
export const runbookUrl = (alert: string) => `RUNBOOK.md#${runbookAnchor(alert)}`;

const app = (host: string) => `job="app-health",instance="${host}",host="${host}"`;

/** Every alert this deployment can raise, in RUNBOOK order. */
export function alertDefs(spec: Spec, dep: Deployment): AlertDef[] {
  const kind = spec.loadBalancer.kind;
  const m = spec.monitoring;
  const lagBytes = m.replicationLagMb * 1024 * 1024;
  const slotBytes = m.slotRetainedMb * 1024 * 1024;
  const a: AlertDef[] = [];
  const patroni = spec.database.ha === 'patroni';
  const app1 = dep.members.app[0] ?? 'app1';
  const lb1 = dep.members.lb[0] ?? 'lb1';
  const db1 = dep.members.db[0] ?? 'db1';

  a.push({
    alert: 'AppInstanceDown', severity: 'warning', for: '1m',
    expr: 'probe_success{job="app-health"} == 0',
    description: 'App instance on {{ $labels.host }} does not answer its health check; the load balancer sends its requests to the others.',
    fire: { series: [{ series: `probe_success{${app(app1)}}`, values: '0x12' }], at: '2m', labels: { job: 'app-health', instance: app1, host: app1 } },
    quiet: [{ series: `probe_success{${app(app1)}}`, values: '1x12' }],
  });
  if (kind === 'haproxy') {
    a.push({
      alert: 'LbBackendDown', severity: 'warning', for: '1m',
      expr: 'haproxy_server_status{proxy="app",state="DOWN"} == 1',
      description: 'HAProxy on {{ $labels.host }} has taken app server {{ $labels.server }} out (health check failing).',
      fire: { series: [{ series: `haproxy_server_status{job="lb",instance="${lb1}",host="${lb1}",proxy="app",server="${app1}",state="DOWN"}`, values: '1x12' }], at: '2m', labels: { job: 'lb', instance: lb1, host: lb1, proxy: 'app', server: app1, state: 'DOWN' } },
      quiet: [{ series: `haproxy_server_status{job="lb",instance="${lb1}",host="${lb1}",proxy="app",server="${app1}",state="DOWN"}`, values: '0x12' }],
    });
    a.push({
      alert: 'LbAllBackendsDown', severity: 'critical', for: '30s',
      expr: 'haproxy_backend_active_servers{proxy="app"} == 0',
      description: 'HAProxy on {{ $labels.host }} has no app server left: every request fails.',
      fire: { series: [{ series: `haproxy_backend_active_servers{job="lb",instance="${lb1}",host="${lb1}",proxy="app"}`, values: '0x12' }], at: '2m', labels: { job: 'lb', instance: lb1, host: lb1, proxy: 'app' } },
      quiet: [{ series: `haproxy_backend_active_servers{job="lb",instance="${lb1}",host="${lb1}",proxy="app"}`, values: '2x12' }],
    });
  } else if (kind === 'caddy') {
    a.push({
      alert: 'LbBackendDown', severity: 'warning', for: '1m',
      expr: 'caddy_reverse_proxy_upstreams_healthy == 0',
      description: 'Caddy on {{ $labels.host }} has taken app upstream {{ $labels.upstream }} out (health check failing).',
      fire: { series: [{ series: `caddy_reverse_proxy_upstreams_healthy{job="lb",instance="${lb1}",host="${lb1}",upstream="${app1}:${spec.app.port}"}`, values: '0x12' }], at: '2m', labels: { job: 'lb', instance: lb1, host: lb1, upstream: `${app1}:${spec.app.port}` } },
      quiet: [{ series: `caddy_reverse_proxy_upstreams_healthy{job="lb",instance="${lb1}",host="${lb1}",upstream="${app1}:${spec.app.port}"}`, values: '1x12' }],
    });
    a.push({
      alert: 'LbAllBackendsDown', severity: 'critical', for: '30s',
      expr: 'sum by (host) (caddy_reverse_proxy_upstreams_healthy) == 0',
      description: 'Caddy on {{ $labels.host }} has no healthy app upstream left: every request fails.',
      fire: { series: [{ series: `caddy_reverse_proxy_upstreams_healthy{job="lb",instance="${lb1}",host="${lb1}",upstream="${app1}:${spec.app.port}"}`, values: '0x12' }], at: '2m', labels: { host: lb1 } },
      quiet: [{ series: `caddy_reverse_proxy_upstreams_healthy{job="lb",instance="${lb1}",host="${lb1}",upstream="${app1}:${spec.app.port}"}`, values: '1x12' }],
    });
  } else {
    // Open-source nginx exports no per-upstream state: the probes of the instances stand in for its view.
    a.push({
      alert: 'LbBackendDown', severity: 'warning', for: '1m',
      expr: 'probe_success{job="app-health"} == 0 and on() (sum(nginx_up) > 0)',
      description: 'nginx sends no requests to the app instance on {{ $labels.host }} after its first failure (it fails the health probe).',
      fire: { series: [{ series: `probe_success{${app(app1)}}`, values: '0x12' }, { series: `nginx_up{job="lb",instance="${lb1}",host="${lb1}"}`, values: '1x12' }], at: '2m', labels: { job: 'app-health', instance: app1, host: app1 } },
      quiet: [{ series: `probe_success{${app(app1)}}`, values: '1x12' }, { series: `nginx_up{job="lb",instance="${lb1}",host="${lb1}"}`, values: '1x12' }],
    });
    a.push({
      alert: 'LbAllBackendsDown', severity: 'critical', for: '30s',
      expr: 'sum(probe_success{job="app-health"}) == 0',
      description: 'No app instance answers its health check: every request through nginx fails.',
      fire: { series: [{ series: `probe_success{${app(app1)}}`, values: '0x12' }], at: '2m', labels: {} },
      quiet: [{ series: `probe_success{${app(app1)}}`, values: '1x12' }],
    });
  }
  const front = dep.monitoring?.probes.find((p) => p.job === 'front-health')?.targets[0];
  const frontInst = front?.url ?? `http://${lb1}${spec.app.healthPath}`;
  const frontHost = front?.to ?? lb1;
  a.push({
    alert: 'FrontDoorUnreachable', severity: 'critical', for: '1m',
    expr: 'probe_success{job="front-health"} == 0',
    description: `The front door ({{ $labels.instance }}) does not answer ${spec.app.healthPath}: clients cannot reach the app there.`,
    fire: { series: [{ series: `probe_success{job="front-health",instance="${frontInst}",host="${frontHost}"}`, values: '0x12' }], at: '2m', labels: { job: 'front-health', instance: frontInst, host: frontHost } },
    quiet: [{ series: `probe_success{job="front-health",instance="${frontInst}",host="${frontHost}"}`, values: '1x12' }],
  });
  if (kind === 'haproxy') {
    a.push({
      alert: 'HighErrorRatio', severity: 'warning', for: '5m',
      expr: 'sum by (host) (rate(haproxy_backend_http_responses_total{proxy="app",code="5xx"}[5m])) / sum by (host) (rate(haproxy_backend_http_responses_total{proxy="app"}[5m])) > 0.05',
      description: 'More than 5% of the app\'s answers through HAProxy on {{ $labels.host }} are 5xx errors.',
      fire: { series: [{ series: `haproxy_backend_http_responses_total{job="lb",instance="${lb1}",host="${lb1}",proxy="app",code="5xx"}`, values: '0+10x60' }, { series: `haproxy_backend_http_responses_total{job="lb",instance="${lb1}",host="${lb1}",proxy="app",code="2xx"}`, values: '0+10x60' }], at: '15m', labels: { host: lb1 } },
      quiet: [{ series: `haproxy_backend_http_responses_total{job="lb",instance="${lb1}",host="${lb1}",proxy="app",code="5xx"}`, values: '0x60' }, { series: `haproxy_backend_http_responses_total{job="lb",instance="${lb1}",host="${lb1}",proxy="app",code="2xx"}`, values: '0+10x60' }],
    });
  } else if (kind === 'caddy') {
    a.push({
      alert: 'HighErrorRatio', severity: 'warning', for: '5m',
      expr: 'sum by (host) (rate(caddy_http_request_duration_seconds_count{code=~"5.."}[5m])) / sum by (host) (rate(caddy_http_request_duration_seconds_count[5m])) > 0.05',
      description: 'More than 5% of the answers through Caddy on {{ $labels.host }} are 5xx errors.',
      fire: { series: [{ series: `caddy_http_request_duration_seconds_count{job="lb",instance="${lb1}",host="${lb1}",code="502"}`, values: '0+10x60' }, { series: `caddy_http_request_duration_seconds_count{job="lb",instance="${lb1}",host="${lb1}",code="200"}`, values: '0+10x60' }], at: '15m', labels: { host: lb1 } },
      quiet: [{ series: `caddy_http_request_duration_seconds_count{job="lb",instance="${lb1}",host="${lb1}",code="502"}`, values: '0x60' }, { series: `caddy_http_request_duration_seconds_count{job="lb",instance="${lb1}",host="${lb1}",code="200"}`, values: '0+10x60' }],
    });
  } else {
    // stub_status has no status codes: the front door's own probe answering 5xx stands in.
    a.push({
      alert: 'HighErrorRatio', severity: 'warning', for: '5m',
      expr: 'probe_http_status_code{job="front-health"} >= 500',
      description: `The front door ({{ $labels.instance }}) answers ${spec.app.healthPath} with a 5xx error (nginx's stub_status counts no status codes).`,
      fire: { series: [{ series: `probe_http_status_code{job="front-health",instance="${frontInst}",host="${frontHost}"}`, values: '502x60' }], at: '15m', labels: { job: 'front-health', instance: frontInst, host: frontHost } },
      quiet: [{ series: `probe_http_status_code{job="front-health",instance="${frontInst}",host="${frontHost}"}`, values: '200x60' }],
    });
  }
  if (dep.floating.length) {
    const fa = dep.floating[0]!.address;
    a.push({
      alert: 'FloatingAddressNotHeld', severity: 'critical', for: '30s',
      expr: 'probe_success{job="floating"} == 0',
      description: 'The floating address ({{ $labels.instance }}) does not answer: no lb host holds it, or the one holding it has no working load balancer.',
      fire: { series: [{ series: `probe_success{job="floating",instance="${fa}",host="floating"}`, values: '0x12' }], at: '2m', labels: { job: 'floating', instance: fa, host: 'floating' } },
      quiet: [{ series: `probe_success{job="floating",instance="${fa}",host="floating"}`, values: '1x12' }],
    });
  }
  a.push({
    alert: 'PostgresDown', severity: 'critical', for: '30s',
    expr: 'pg_up == 0',
    description: 'PostgreSQL on {{ $labels.host }} does not answer its exporter.',
    fire: { series: [{ series: `pg_up{job="postgres",instance="${db1}",host="${db1}"}`, values: '0x12' }], at: '2m', labels: { job: 'postgres', instance: db1, host: db1 } },
    quiet: [{ series: `pg_up{job="postgres",instance="${db1}",host="${db1}"}`, values: '1x12' }],
  });
  if (patroni) {
    a.push({
      alert: 'PatroniNoLeader', severity: 'critical', for: '1m',
      expr: '(max(patroni_primary) or vector(0)) < 1',
      description: 'No Patroni member is the leader: the database takes no writes.',
      fire: { series: [{ series: `patroni_primary{job="patroni",instance="${db1}",host="${db1}",scope="${spec.name}"}`, values: '0x12' }], at: '2m', labels: {} },
      quiet: [{ series: `patroni_primary{job="patroni",instance="${db1}",host="${db1}",scope="${spec.name}"}`, values: '1x12' }],
    });
    a.push({
      alert: 'PatroniFailover', severity: 'warning', for: '0s',
      // The lowest timeline of the last 10 minutes, not the one 10 minutes ago: a Prometheus started
      // less than 10 minutes before the failover has no sample that old (found in the live test).
      // Timeline 0 is a member without one yet (bootstrap, a replica being cloned): bring-up is no failover.
      expr: 'max(patroni_postgres_timeline > 0) > min_over_time(max(patroni_postgres_timeline > 0)[10m:])',
      description: 'The database timeline moved on in the last 10 minutes: Patroni promoted a new leader (a failover or switchover).',
      fire: { series: [{ series: `patroni_postgres_timeline{job="patroni",instance="${db1}",host="${db1}",scope="${spec.name}"}`, values: '1x40 2x40' }], at: '11m', labels: {} },
      // a cluster coming up: timeline 0 for 2 minutes, then 1; at 11m the window still holds the zeros
      quiet: [{ series: `patroni_postgres_timeline{job="patroni",instance="${db1}",host="${db1}",scope="${spec.name}"}`, values: '0x8 1x80' }],
    });
  }
  a.push({
    alert: 'StandbyNotStreaming', severity: 'warning', for: '1m',
    expr: 'pg_replica_standby == 1 and on(instance) pg_replica_streaming == 0',
    description: 'The standby on {{ $labels.host }} does not stream WAL from the primary: it falls behind, and cannot take over without data loss.',
    fire: { series: [{ series: `pg_replica_standby{job="postgres",instance="${db1}",host="${db1}"}`, values: '1x12' }, { series: `pg_replica_streaming{job="postgres",instance="${db1}",host="${db1}"}`, values: '0x12' }], at: '2m', labels: { job: 'postgres', instance: db1, host: db1 } },
    quiet: [{ series: `pg_replica_standby{job="postgres",instance="${db1}",host="${db1}"}`, values: '1x12' }, { series: `pg_replica_streaming{job="postgres",instance="${db1}",host="${db1}"}`, values: '1x12' }],
  });
  a.push({
    alert: 'ReplicationLagHigh', severity: 'warning', for: '2m',
    expr: `pg_standby_lag_bytes > ${lagBytes}`,
    description: `The standby {{ $labels.client_addr }} replays WAL more than ${m.replicationLagMb} MiB behind the primary on {{ $labels.host }}.`,
    fire: { series: [{ series: `pg_standby_lag_bytes{job="postgres",instance="${db1}",host="${db1}",client_addr="10.0.0.2"}`, values: `${lagBytes * 2}x20` }], at: '4m', labels: { job: 'postgres', instance: db1, host: db1, client_addr: '10.0.0.2' } },
    quiet: [{ series: `pg_standby_lag_bytes{job="postgres",instance="${db1}",host="${db1}",client_addr="10.0.0.2"}`, values: '0x20' }],
  });
  a.push({
    alert: 'ReplicationSlotRetainingWal', severity: 'warning', for: '5m',
    expr: `pg_slot_retained_bytes > ${slotBytes}`,
    description: `Replication slot {{ $labels.slot_name }} on {{ $labels.host }} keeps more than ${m.slotRetainedMb} MiB of WAL (a standby that is gone or far behind): the disk fills.`,
    fire: { series: [{ series: `pg_slot_retained_bytes{job="postgres",instance="${db1}",host="${db1}",slot_name="db2"}`, values: `${slotBytes * 2}x40` }], at: '8m', labels: { job: 'postgres', instance: db1, host: db1, slot_name: 'db2' } },
    quiet: [{ series: `pg_slot_retained_bytes{job="postgres",instance="${db1}",host="${db1}",slot_name="db2"}`, values: '1024x40' }],
  });
  a.push({
    alert: 'WalArchivingFailing', severity: 'critical', for: '5m',
    expr: 'increase(pg_archiver_failed_count[10m]) > 0 and on(instance) pg_archiver_last_failed_time > on(instance) pg_archiver_last_archived_time',
    description: 'WAL archiving fails on {{ $labels.host }}: point-in-time recovery stops at the last archived segment, and WAL piles up on the disk.',
    fire: { series: [{ series: `pg_archiver_failed_count{job="postgres",instance="${db1}",host="${db1}"}`, values: '0+1x60' }, { series: `pg_archiver_last_failed_time{job="postgres",instance="${db1}",host="${db1}"}`, values: '2000x60' }, { series: `pg_archiver_last_archived_time{job="postgres",instance="${db1}",host="${db1}"}`, values: '1000x60' }], at: '12m', labels: { job: 'postgres', instance: db1, host: db1 } },
    quiet: [{ series: `pg_archiver_failed_count{job="postgres",instance="${db1}",host="${db1}"}`, values: '3x60' }, { series: `pg_archiver_last_failed_time{job="postgres",instance="${db1}",host="${db1}"}`, values: '1000x60' }, { series: `pg_archiver_last_archived_time{job="postgres",instance="${db1}",host="${db1}"}`, values: '2000x60' }],
  });
  a.push({
    alert: 'BackupFailed', severity: 'warning', for: '0s',
    expr: `max(${BACKUP_METRICS.failure}) > (max(${BACKUP_METRICS.success}) or vector(0))`,
    description: 'The last base backup failed (journalctl -u the backup service on the primary says why).',
    fire: { series: [{ series: `${BACKUP_METRICS.failure}{job="node",instance="${db1}",host="${db1}"}`, values: '2000x4' }, { series: `${BACKUP_METRICS.success}{job="node",instance="${db1}",host="${db1}"}`, values: '1000x4' }], at: '30s', labels: {} },
    quiet: [{ series: `${BACKUP_METRICS.failure}{job="node",instance="${db1}",host="${db1}"}`, values: '1000x4' }, { series: `${BACKUP_METRICS.success}{job="node",instance="${db1}",host="${db1}"}`, values: '2000x4' }],
  });
  const maxAge = BACKUP_MAX_AGE_HOURS * 3600;
  a.push({
    alert: 'BackupTooOld', severity: 'critical', for: '0s',
    expr: `time() - max(${BACKUP_METRICS.success}) > ${maxAge}`,
    description: `The last successful base backup is more than ${BACKUP_MAX_AGE_HOURS} hours old: a daily backup was missed (the schedule runs at ${spec.backup.time} UTC).`,
    // time() is the evaluation time (seconds since the test's start): a timestamp of 30 hours before
    // the start is 30 hours old; a test that ran 30 hours would take promtool minutes.
    fire: { series: [{ series: `${BACKUP_METRICS.success}{job="node",instance="${db1}",host="${db1}"}`, values: `-${30 * 3600}x12` }], at: '2m', labels: {} },
    quiet: [{ series: `${BACKUP_METRICS.success}{job="node",instance="${db1}",host="${db1}"}`, values: `-${(BACKUP_MAX_AGE_HOURS - 2) * 3600}x12` }],
  });
  const fsLabels = (h: string) => `job="node",instance="${h}",host="${h}",device="/dev/vdb",fstype="ext4",mountpoint="/var/lib/postgresql"`;
  const fsL = { job: 'node', instance: db1, host: db1, device: '/dev/vdb', fstype: 'ext4', mountpoint: '/var/lib/postgresql' };
  a.push({
    alert: 'DiskFillingUp', severity: 'warning', for: '30m',
    expr: `predict_linear(node_filesystem_avail_bytes{${FS}}[1h], 4 * 3600) < 0`,
    description: 'File system {{ $labels.mountpoint }} on {{ $labels.host }} will be full within 4 hours at the rate it fills.',
    fire: { series: [{ series: `node_filesystem_avail_bytes{${fsLabels(db1)}}`, values: '10000000000-10000000x400' }], at: '90m', labels: fsL },
    quiet: [{ series: `node_filesystem_avail_bytes{${fsLabels(db1)}}`, values: '10000000000x400' }],
  });
  a.push({
    alert: 'DiskAlmostFull', severity: 'warning', for: '1m',
    expr: `100 * (1 - node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}}) > ${m.diskPercent}`,
    description: `File system {{ $labels.mountpoint }} on {{ $labels.host }} is more than ${m.diskPercent}% full.`,
    fire: { series: [{ series: `node_filesystem_avail_bytes{${fsLabels(db1)}}`, values: '10x12' }, { series: `node_filesystem_size_bytes{${fsLabels(db1)}}`, values: '1000x12' }], at: '2m', labels: fsL },
    quiet: [{ series: `node_filesystem_avail_bytes{${fsLabels(db1)}}`, values: '900x12' }, { series: `node_filesystem_size_bytes{${fsLabels(db1)}}`, values: '1000x12' }],
  });
  if (spec.loadBalancer.tls !== 'none') {
    a.push({
      alert: 'CertificateExpiringSoon', severity: 'warning', for: '10m',
      expr: 'probe_ssl_earliest_cert_expiry - time() < 14 * 86400',
      description: 'The certificate served at {{ $labels.instance }} expires within 14 days (did renewal stop?).',
      fire: { series: [{ series: `probe_ssl_earliest_cert_expiry{job="front-health",instance="${frontInst}",host="${frontHost}"}`, values: '86400x60' }], at: '15m', labels: { job: 'front-health', instance: frontInst, host: frontHost } },
      quiet: [{ series: `probe_ssl_earliest_cert_expiry{job="front-health",instance="${frontInst}",host="${frontHost}"}`, values: '5000000x60' }],
    });
  }
  if (patroni) {
    const etcd1 = dep.members.etcd[0] ?? 'etcd1';
    const n = dep.members.etcd.length || 3;
    const quorum = Math.floor(n / 2) + 1;
    a.push({
      alert: 'EtcdNoLeader', severity: 'critical', for: '30s',
      expr: 'etcd_server_has_leader == 0',
      description: 'etcd member on {{ $labels.host }} has no leader: Patroni there cannot renew or take the leader lock.',
      fire: { series: [{ series: `etcd_server_has_leader{job="etcd",instance="${etcd1}",host="${etcd1}"}`, values: '0x12' }], at: '2m', labels: { job: 'etcd', instance: etcd1, host: etcd1 } },
      quiet: [{ series: `etcd_server_has_leader{job="etcd",instance="${etcd1}",host="${etcd1}"}`, values: '1x12' }],
    });
    a.push({
      alert: 'EtcdQuorumLost', severity: 'critical', for: '30s',
      expr: `sum(up{job="etcd"}) < ${quorum}`,
      description: `Fewer than ${quorum} of the ${n} etcd members answer: no majority, so no failover can happen and the leader demotes itself.`,
      fire: { series: [{ series: `up{job="etcd",instance="${etcd1}",host="${etcd1}"}`, values: '0x12' }], at: '2m', labels: {} },
      quiet: Array.from({ length: quorum }, (_, i) => ({ series: `up{job="etcd",instance="etcd-q${i}",host="etcd-q${i}"}`, values: '1x12' })),
    });
  }
  a.push({
    alert: 'TargetDown', severity: 'warning', for: '1m',
    expr: 'up == 0',
    description: 'Prometheus cannot scrape {{ $labels.job }} on {{ $labels.host }}: the service or its host is down, or the network between them is cut.',
    fire: { series: [{ series: `up{job="node",instance="${db1}",host="${db1}"}`, values: '0x12' }], at: '2m', labels: { job: 'node', instance: db1, host: db1 } },
    quiet: [{ series: `up{job="node",instance="${db1}",host="${db1}"}`, values: '1x12' }],
  });
  return a;
}

/** The rules file (one group). */
export function rulesDoc(spec: Spec, dep: Deployment): Record<string, unknown> {
  return {
    groups: [
      {
        name: `${spec.name}-alerts`,
        rules: alertDefs(spec, dep).map((d) => ({
          alert: d.alert,
          expr: d.expr,
          ...(d.for === '0s' ? {} : { for: d.for }),
          labels: { severity: d.severity },
          annotations: { description: d.description, runbook_url: runbookUrl(d.alert) },
        })),
      },
    ],
  };
}

const fill = (text: string, labels: Record<string, string>) => text.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, k: string) => labels[k] ?? '');

/** promtool unit tests: per alert, a firing case and a quiet case. */
export function rulesTestDoc(spec: Spec, dep: Deployment): Record<string, unknown> {
  const tests = alertDefs(spec, dep).flatMap((d) => {
    const interval = '15s';
    return [
      {
        name: `${d.alert} fires`,
        interval,
        input_series: d.fire.series,
        alert_rule_test: [{ eval_time: d.fire.at, alertname: d.alert, exp_alerts: [{ exp_labels: { ...d.fire.labels, severity: d.severity }, exp_annotations: { description: fill(d.description, d.fire.labels), runbook_url: runbookUrl(d.alert) } }] }],
      },
      { name: `${d.alert} stays quiet`, interval, input_series: d.quiet, alert_rule_test: [{ eval_time: d.fire.at, alertname: d.alert, exp_alerts: [] }] },
    ];
  });
  return { rule_files: [RULES_FILE], evaluation_interval: '15s', tests };
}
