/**
 * What a spec will produce, as data: hosts and services, ports, failures survived, availability
 * (the guide's figure and a composite estimate), RTO/RPO from the generated settings, warnings.
 * Pure: used by `ha-gen plan` and by the bundle's README and RUNBOOK.
 */
import type { Spec } from '../spec/schema.js';
import { TIER_SUMMARY } from '../spec/presets.js';
import { checkRules } from '../spec/rules.js';
import { deploymentOf, flowsOf, type Deployment, type Exposure, type Flow } from '../model/index.js';
import { hostLosses, worstHostLoss, type HostLoss } from '../model/failures.js';
import { DCS_TIMING } from '../targets/patroni/timing.js';

export type { Flow } from '../model/index.js';
export type { HostLoss } from '../model/failures.js';

export interface PlanPort {
  port: number;
  bind: string;
  exposure: Exposure;
  what: string;
}

export interface PlanService {
  /** The name an operator types: compose service, swarm service or systemd unit. */
  name: string;
  kind: string;
  what: string;
  ports: PlanPort[];
}

export interface PlanHost {
  /** Inventory name (hosts), placement group (swarm) or the one server (compose). */
  name: string;
  address?: string;
  region?: string;
  label?: string;
  external?: boolean;
  roles: string[];
  services: PlanService[];
}

/** Patroni's DCS timing as generated (bootstrap.dcs). */
export interface PatroniTiming {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
  maximumLagOnFailover: number;
}

/** The timing the patroni target generates (bootstrap.dcs); maximum_lag_on_failover as in its config. */
export const DEFAULT_PATRONI_TIMING: PatroniTiming = { ttl: DCS_TIMING.ttl, loopWait: DCS_TIMING.loop_wait, retryTimeout: DCS_TIMING.retry_timeout, maximumLagOnFailover: 1048576 };

/** Seconds a dead app instance keeps its place in the rotation: HAProxy inter 1s fall 2, Caddy 1s checks, nginx retries at once. */
export const LB_DETECT_SECONDS = 2;
/** HAProxy (database endpoint) checks the new leader `rise` times before sending writes to it. */
export const DB_ENDPOINT_RISE_SECONDS = 3;

export interface PlanOptions {
  patroni?: PatroniTiming;
}

export type { Outcome } from '../model/failures.js';
import type { Outcome } from '../model/failures.js';

export interface FailureCase {
  failure: string;
  survived: Outcome;
  how: string;
  /** What it looks like from outside (clients, monitoring). */
  symptom: string;
  rto: string;
  rpo: string;
}

export interface AvailabilityTerm {
  component: string;
  members: number;
  /** k-of-n for a quorum, 1 otherwise. */
  needed: number;
  perMember: number;
  value: number;
}

export interface Plan {
  name: string;
  tier: Spec['tier'];
  platform: Spec['platform'];
  loadBalancer: Spec['loadBalancer']['kind'];
  database: Spec['database']['ha'];
  storage: Spec['storage']['kind'];
  regions: string[];
  hosts: PlanHost[];
  ports: Array<{ host: string; service: string; port: number; bind: string; exposure: string; what: string }>;
  /** Every connection the deployment makes (contract: flows). */
  flows: Flow[];
  /** What losing each host does, from the flows. */
  hostLosses: HostLoss[];
  /** Floating addresses (keepalived) and the hosts that can hold each: flows to "floating" reach one of them. */
  floating: Array<{ address: string; holders: string[] }>;
  failures: FailureCase[];
  availability: {
    guide: string;
    guideDowntime: string;
    composite: number;
    compositeText: string;
    downtimePerYear: string;
    formula: string;
    terms: AvailabilityTerm[];
    assumptions: string[];
  };
  recovery: {
    rpoSeconds: number;
    archiveTimeout: number;
    backupSchedule: string;
    dumpSchedule: string;
    retention: string;
    patroni?: PatroniTiming & { failoverSeconds: number };
  };
  warnings: string[];
}

/** Per-member availability assumptions of the composite estimate. */
export const A_SERVER = 0.995;
export const A_PROCESS = 0.999;
/** Health-checked global DNS (Route 53 and Cloudflare's load balancer both promise 100 % for answering). */
export const A_GLOBAL_DNS = 0.99999;

const round = (x: number, digits: number) => Number(x.toFixed(digits));

function binom(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** Probability that at least `needed` of `n` members, each up with probability a, are up. */
export function atLeast(n: number, needed: number, a: number): number {
  let p = 0;
  for (let k = needed; k <= n; k++) p += binom(n, k) * a ** k * (1 - a) ** (n - k);
  return p;
}

export function downtimeText(a: number): string {
  const minutes = (1 - a) * 365.25 * 24 * 60;
  if (minutes >= 2 * 24 * 60) return `~${round(minutes / 1440, 1)} days/year`;
  if (minutes >= 120) return `~${round(minutes / 60, 1)} hours/year`;
  return `~${Math.round(minutes)} minutes/year`;
}

const pct = (a: number) => `${(a * 100).toFixed(3).replace(/0+$/, '').replace(/\.$/, '')}%`;

export { backupSchedule, dumpTime } from './schedule.js';
import { backupSchedule } from './schedule.js';

function layer(component: string, members: number, perMember: number, needed = 1): AvailabilityTerm {
  const value = needed === 1 ? 1 - (1 - perMember) ** members : atLeast(members, needed, perMember);
  return { component, members, needed, perMember, value };
}

/** How many members each layer has, counted from the services the model places. */
function counts(spec: Spec, dep: Deployment) {
  const n = (k: string, id?: string) => dep.hosts.reduce((acc, h) => acc + h.services.filter((x) => x.kind === k && (!id || x.id === id)).length, 0);
  return { lb: n('lb'), app: n('app'), db: n('db'), etcd: n('etcd'), storage: n('storage', 'storage'), assumedLb: spec.platform === 'swarm' };
}

function availability(spec: Spec, dep: Deployment): Plan['availability'] {
  // Multi-region: the layers are those of one region (each region is a complete deployment).
  const c = counts(spec, dep.regions?.[0]?.deployment ?? dep);
  const assumptions = [
    `a server (VM) is up ${pct(A_SERVER)} of the time, a service process on it ${pct(A_PROCESS)}; failures are independent`,
    'redundant members take over within the detection times below (short next to a server\'s repair time)',
  ];
  const terms: AvailabilityTerm[] = [];
  if (spec.platform === 'compose') {
    // Everything shares one server: the server is in series with every process.
    terms.push(layer('server (everything runs on it)', 1, A_SERVER));
    terms.push(layer(`${spec.loadBalancer.kind} load balancer`, 1, A_PROCESS));
    terms.push(layer('app instances', c.app, A_PROCESS));
    terms.push(layer('PostgreSQL', spec.database.ha === 'none' ? 1 : c.db, A_PROCESS));
  } else {
    const m = A_SERVER * A_PROCESS;
    const floating = (dep.regions?.[0]?.deployment ?? dep).floating.length > 0;
    const who = c.assumedLb ? 'swarm: 2 nodes labelled lb=true' : `${c.lb} load balancer hosts`;
    if (c.lb > 1) assumptions.push(floating ? `${who} behind a floating address that keepalived moves to a healthy one in ~4 s` : `${who} behind DNS (no floating address: clients that resolved a lost one fail until DNS moves them)`);
    terms.push(layer(`${spec.loadBalancer.kind} load balancer`, c.lb, m));
    terms.push(layer('app instances', c.app, m));
    if (spec.database.ha === 'none') terms.push(layer('PostgreSQL', 1, m));
    else {
      terms.push(layer(spec.database.ha === 'patroni' ? 'PostgreSQL (Patroni members)' : 'PostgreSQL (primary + standbys)', c.db, m));
      if (spec.database.ha === 'streaming') assumptions.push('streaming: a person promotes a standby (promote script) well within a server\'s repair time');
    }
    if (spec.database.ha === 'patroni') terms.push(layer('etcd quorum', c.etcd, m, Math.floor(c.etcd / 2) + 1));
    if (spec.storage.kind === 'nfs') terms.push(layer('NFS server', 1, m));
    if (spec.storage.kind === 's3') terms.push(layer('MinIO (S3)', 1, m));
    if (spec.storage.kind === 'glusterfs') terms.push(layer('GlusterFS replicas', Math.max(c.storage, 2), m));
  }
  let a = terms.reduce((acc, t) => acc * t.value, 1);
  let formula = 'A = ' + terms.map((t) => (t.needed > 1 ? `Q(${t.needed} of ${t.members})` : t.members > 1 ? `(1 − (1 − a)^${t.members})` : 'a')).join(' × ');
  formula += '   where a layer of n redundant members is up with 1 − (1 − a)^n, a quorum with Q(k of n) = Σ_{j≥k} C(n,j) a^j (1 − a)^(n−j)';
  if (spec.tier === 'multi-region') {
    const r = Math.max(spec.regions.length, 2);
    const region = a;
    a = (1 - (1 - region) ** r) * A_GLOBAL_DNS;
    terms.push({ component: `regions (any 1 of ${r}, each ${pct(region)})`, members: r, needed: 1, perMember: region, value: 1 - (1 - region) ** r });
    terms.push({ component: 'global DNS failover', members: 1, needed: 1, perMember: A_GLOBAL_DNS, value: A_GLOBAL_DNS });
    formula = `A = (1 − (1 − A_region)^${r}) × A_dns, A_region = ${formula.slice(4)}`;
    assumptions.push('a region failover needs the other region\'s database promoted (logical replica): counted as redundant');
  }
  return { guide: TIER_SUMMARY[spec.tier].availability, guideDowntime: TIER_SUMMARY[spec.tier].downtime, composite: round(a * 100, 4), compositeText: pct(a), downtimePerYear: downtimeText(a), formula, terms: terms.map((t) => ({ ...t, value: round(t.value, 8), perMember: round(t.perMember, 8) })), assumptions };
}

function failoverSeconds(t: PatroniTiming): number {
  // The leader key expires after ttl; a replica notices within loop_wait; the endpoint then checks it healthy.
  return t.ttl + t.loopWait + DB_ENDPOINT_RISE_SECONDS;
}

function failures(spec: Spec, dep: Deployment, losses: HostLoss[], patroni: PatroniTiming): FailureCase[] {
  const c = counts(spec, dep);
  const ha = spec.database.ha;
  const at = spec.backup.archiveTimeout;
  const out: FailureCase[] = [];
  const lbName = spec.loadBalancer.kind;
  const appSurvives = c.app >= 2;
  out.push({
    failure: 'an app instance crashes or hangs',
    survived: appSurvives ? 'yes' : 'no',
    how: appSurvives ? `${lbName} stops sending to it within ~${LB_DETECT_SECONDS} s; ${spec.platform === 'hosts' ? 'systemd' : 'Docker'} restarts it` : 'only one instance',
    symptom: `a few slow or retried requests; ${lbName} marks the instance down; smoke.sh fails its health line`,
    rto: appSurvives ? `~${LB_DETECT_SECONDS} s (nothing for clients whose requests were retried)` : 'until it restarts',
    rpo: '0 (the app is stateless)',
  });
  const pgRestart = spec.platform === 'hosts' ? 'systemd' : 'Docker';
  out.push({
    failure: 'the PostgreSQL process crashes',
    survived: 'yes',
    how: ha === 'patroni' ? 'Patroni restarts it in place (measured 4-8 s)' : `${pgRestart} restarts it`,
    symptom: 'writes fail for a few seconds with connection errors; the app\'s health may go red briefly',
    rto: ha === 'patroni' ? '~5-8 s' : '~5-10 s (crash recovery replays WAL)',
    rpo: '0 (committed transactions are in the WAL)',
  });
  const repoOffServer = spec.backup.repository === 's3' && spec.platform !== 'compose';
  if (ha === 'none') {
    out.push({
      failure: 'the database server is lost',
      survived: 'manual',
      how: `restore with backup/restore-pitr.sh onto a new server (repository ${spec.backup.repository})`,
      symptom: 'every request that needs the database fails (5xx); pg_isready fails; the app health path goes red',
      rto: 'restore time: the base backup plus replay of up to 24 h of WAL (measure it with the restore drill)',
      rpo: repoOffServer ? `≤ ${at} s (archive_timeout) when the WAL archive is off the server` : `up to 24 h: the repository is ${spec.platform === 'compose' ? 'on the same host' : 'on the database server'}; copy it off (or use repository s3 on another host) for ≤ ${at} s`,
    });
  } else if (ha === 'streaming') {
    out.push({
      failure: 'the database primary is lost',
      survived: 'manual',
      how: 'a person promotes the standby (runbook step 4) and points the app at it',
      symptom: 'writes fail (read-only or connection refused); the standby shows the primary as gone in pg_stat_wal_receiver',
      rto: 'minutes: detection + promotion by a person',
      rpo: spec.database.synchronous ? '0 (synchronous: a commit waited for a standby)' : 'the replication lag at the moment of failure (usually milliseconds of writes)',
    });
  } else {
    out.push({
      failure: 'the database primary (Patroni leader) is lost',
      survived: 'yes',
      how: `Patroni promotes a replica after the leader key expires (ttl ${patroni.ttl} s, loop_wait ${patroni.loopWait} s); the endpoint follows /primary`,
      symptom: 'writes fail or hang for a few seconds, then succeed through the endpoint; patronictl list shows a new leader',
      rto: `≤ ~${failoverSeconds(patroni)} s (ttl + loop_wait + endpoint checks${patroni.ttl === 10 && patroni.loopWait === 2 ? '; measured on loopback: 8.4-9.7 s after kill -9 of the leader' : ''})`,
      rpo: spec.database.synchronous ? '0 (synchronous_mode)' : `≤ ${Math.round(patroni.maximumLagOnFailover / 1024)} KiB of WAL (maximum_lag_on_failover)`,
    });
    out.push({
      failure: 'an etcd member is lost',
      survived: c.etcd >= 3 ? 'yes' : 'no',
      how: c.etcd >= 3 ? `${Math.floor(c.etcd / 2) + 1} of ${c.etcd} members keep quorum` : `${c.etcd} member(s): no quorum left, no failover possible (failsafe keeps the primary)`,
      symptom: 'nothing for clients; etcdctl endpoint health shows one member unhealthy',
      rto: c.etcd >= 3 ? '0' : 'until etcd is back',
      rpo: '0',
    });
  }
  // Losing a whole server: computed from the model's links (model/failures.ts), host by host.
  const worst = worstHostLoss(losses);
  const names = worst.hosts.map((l) => l.host);
  out.push({
    failure: 'a whole server is lost',
    survived: worst.survived,
    how: worst.survived === 'yes'
      ? 'every connection to a service on any one server has another target that health checks, retries or a quorum find by themselves (per host: `plan --json` hostLosses)'
      : `${worst.hosts.slice(0, 4).map((l) => `losing ${l.host}: ${l.effects.join('; ')}`).join('. ')}${names.length > 4 ? `. And ${names.length - 4} more hosts (plan --json: hostLosses)` : ''}`,
    symptom: 'the server stops answering ping/SSH; its services drop out of the load balancer and smoke.sh',
    rto: worst.survived === 'no' ? 'until the server is replaced or restored' : worst.survived === 'manual' ? 'minutes: until a person switches over' : ha === 'patroni' ? `≤ ~${failoverSeconds(patroni)} s` : `~${LB_DETECT_SECONDS} s`,
    rpo: out[2]!.rpo,
  });
  if (spec.tier === 'multi-region') {
    out.push({
      failure: 'a whole region (data center) is lost',
      survived: 'manual',
      how: 'global DNS failover sends users to the other region; its database (logical replica) must be made writable by a person',
      symptom: 'health-checked DNS records for the region turn unhealthy; users of that region see errors until DNS moves them',
      rto: 'DNS TTL + health-check interval (~1-3 min) for reads; writes after promotion by a person',
      rpo: 'the logical replication lag at the moment of failure',
    });
  }
  out.push({
    failure: 'data is deleted or corrupted by mistake',
    survived: 'manual',
    how: 'replication copies the mistake; restore to the moment before it with backup/restore-pitr.sh',
    symptom: 'missing or wrong rows reported by users; no error anywhere',
    rto: 'restore time (base backup + WAL replay), then switch the app over',
    rpo: `the time of the mistake (point-in-time recovery from the WAL archive; archive_timeout ${at} s)`,
  });
  return out;
}

function planWarnings(spec: Spec): string[] {
  const r = checkRules(spec);
  return [...r.warnings, ...r.costs];
}

export function buildPlan(spec: Spec, opts: PlanOptions = {}): Plan {
  const dep = deploymentOf(spec);
  const patroni = opts.patroni ?? DEFAULT_PATRONI_TIMING;
  const sched = backupSchedule(spec);
  const hosts: PlanHost[] = dep.hosts.map((h) => ({
    name: h.name,
    ...(spec.platform === 'compose' ? {} : { address: h.address }),
    ...(h.region ? { region: h.region } : {}),
    ...(h.label ? { label: h.label } : {}),
    ...(h.external ? { external: true } : {}),
    roles: [...h.roles],
    services: h.services.map((x) => ({ name: x.name, kind: x.kind, what: x.what, ports: x.ports.map((p) => ({ port: p.port, bind: p.bind, exposure: p.exposure, what: p.what })) })),
  }));
  const ports = hosts.flatMap((h) => h.services.flatMap((s) => s.ports.map((p) => ({ host: h.name, service: s.name, port: p.port, bind: p.bind, exposure: p.exposure, what: p.what }))));
  const losses = hostLosses(dep);
  return {
    name: spec.name,
    tier: spec.tier,
    platform: spec.platform,
    loadBalancer: spec.loadBalancer.kind,
    database: spec.database.ha,
    storage: spec.storage.kind,
    regions: spec.tier === 'multi-region' ? spec.regions.map((r) => `${r.name}${r.primary ? ' (primary)' : ''}`) : [],
    hosts,
    ports,
    flows: [...flowsOf(dep)],
    hostLosses: losses,
    floating: dep.floating,
    failures: failures(spec, dep, losses, patroni),
    availability: availability(spec, dep),
    recovery: {
      rpoSeconds: spec.backup.archiveTimeout,
      archiveTimeout: spec.backup.archiveTimeout,
      backupSchedule: sched.backup,
      dumpSchedule: sched.dump,
      retention: `${spec.backup.retentionFull} full, ${spec.backup.retentionDiff} differential backups (and the WAL to restore to any moment since the oldest)`,
      ...(spec.database.ha === 'patroni' ? { patroni: { ...patroni, failoverSeconds: failoverSeconds(patroni) } } : {}),
    },
    // The rules' warnings and costs (spec/rules.ts): plan reports them, never re-derives them.
    warnings: planWarnings(spec),
  };
}
