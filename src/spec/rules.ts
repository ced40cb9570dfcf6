/**
 * Cross-field rules and warnings, in one place: combinations that cannot deliver their tier,
 * inventories that cannot form the topology, settings that cannot work (errors, exit 2), and what a
 * working spec costs (warnings). `resolveSpec` refuses the errors; `plan` reports the warnings.
 */
import type { Issue } from '../errors.js';
import type { Host, Role, Spec } from './schema.js';
import { SWARM_LB_NODES } from '../model/containers.js';
import { isIpv4 } from '../model/constants.js';
import { MONITORING_PORTS } from '../model/monitoring.js';

// Renderers ask for the same role lists once per host: memoised per inventory array (specs are never mutated).
const byRole = new WeakMap<Host[], Map<Role, Host[]>>();
/**
 * Whether tls acme can work on this platform with this load balancer. A Swarm task cannot keep what
 * certbot writes (no volume shared by the LB nodes; secrets are immutable): nginx and HAProxy there
 * read their certificate from Swarm secrets, while Caddy obtains its own. The wizard asks this too.
 */
export const acmeAvailable = (platform: string | undefined, kind: string | undefined) => !(platform === 'swarm' && kind !== 'caddy');

export function hostsWith(spec: Pick<Spec, 'hosts'>, role: Role): Host[] {
  let m = byRole.get(spec.hosts);
  if (!m) byRole.set(spec.hosts, (m = new Map()));
  let hs = m.get(role);
  if (!hs) m.set(role, (hs = spec.hosts.filter((h) => h.roles.includes(role))));
  return hs;
}


/** Cross-field rules: combinations that cannot deliver their tier, inventories that cannot form the topology. */
export function checkRules(spec: Spec, flagOf: Record<string, string> = {}): { errors: Issue[]; warnings: string[]; costs: string[] } {
  const errors: Issue[] = [];
  const warnings: string[] = [];
  const costs: string[] = [];
  const at = (path: string) => (flagOf[path] ? `${flagOf[path]} (${path})` : path);
  const ha = spec.tier !== 'single-server';

  if (ha && spec.platform === 'compose') {
    errors.push({ path: at('platform'), message: `"compose" runs everything on one Docker host, which cannot survive a server failure as tier ${spec.tier} must; choose platform swarm or hosts, or tier single-server` });
  }
  if (ha && spec.storage.kind === 'local') {
    errors.push({ path: at('storage.kind'), message: `"local" keeps uploads on one server, so the other servers cannot see them; choose nfs, s3 or glusterfs for tier ${spec.tier}` });
  }
  if (ha && spec.database.ha === 'none') {
    errors.push({ path: at('database.ha'), message: `"none" leaves one database server as a single point of failure; tier ${spec.tier} needs streaming or patroni` });
  }
  if (spec.platform !== 'hosts' && spec.app.replicas < 2) {
    errors.push({ path: at('app.replicas'), message: `${spec.app.replicas} is too few: high availability needs at least 2 app instances` });
  }
  if (spec.loadBalancer.tls === 'acme' && !spec.domain) {
    errors.push({ path: at('domain'), message: 'is missing: tls "acme" needs a public domain (--domain registry.example.com), or choose tls none or files' });
  }
  if (spec.loadBalancer.tls === 'acme' && !acmeAvailable(spec.platform, spec.loadBalancer.kind)) {
    errors.push({ path: at('loadBalancer.tls'), message: `"acme" is not available for ${spec.loadBalancer.kind} on platform swarm (the certificate reaches each LB task as a Swarm secret); choose tls files (renew with your ACME client, then ./deploy.sh up), or loadBalancer.kind caddy, which obtains its own certificates` });
  }
  if (spec.loadBalancer.httpPort === spec.loadBalancer.httpsPort && spec.loadBalancer.tls !== 'none') {
    errors.push({ path: at('loadBalancer.httpsPort'), message: `${spec.loadBalancer.httpsPort} is the same as loadBalancer.httpPort; HTTP and HTTPS need different ports` });
  }
  const lbPorts = new Set([spec.loadBalancer.httpPort, spec.loadBalancer.statsPort, ...(spec.loadBalancer.tls === 'none' ? [] : [spec.loadBalancer.httpsPort])]);
  if (spec.loadBalancer.statsPort === spec.loadBalancer.httpPort || (spec.loadBalancer.tls !== 'none' && spec.loadBalancer.statsPort === spec.loadBalancer.httpsPort)) {
    errors.push({ path: at('loadBalancer.statsPort'), message: `${spec.loadBalancer.statsPort} is already used by the load balancer's HTTP(S) listener; choose another port` });
  }

  if (spec.tier === 'multi-region') {
    if (spec.regions.length < 2) errors.push({ path: 'regions', message: `has ${spec.regions.length} region(s); multi-region needs at least 2` });
    const primaries = spec.regions.filter((r) => r.primary).length;
    if (spec.regions.length && primaries !== 1) errors.push({ path: 'regions', message: `has ${primaries} primary regions; exactly one region must be primary: true` });
    dupes(spec.regions.map((r) => r.name)).forEach((n) => errors.push({ path: 'regions', message: `region name "${n}" appears more than once` }));
  } else if (spec.regions.length) {
    warnings.push(`regions are only used by tier multi-region; ignored for ${spec.tier}`);
  }

  const fa = spec.loadBalancer.floatingAddress;
  if (fa && spec.platform === 'compose') warnings.push('loadBalancer.floatingAddress is for several lb hosts (hosts, swarm); ignored for compose');
  if (fa && spec.tier === 'multi-region') warnings.push('loadBalancer.floatingAddress is per region in multi-region: set regions[].floatingAddress; ignored');
  if (spec.platform === 'hosts' && fa && spec.hosts.some((h) => h.address === fa)) errors.push({ path: at('loadBalancer.floatingAddress'), message: `"${fa}" is a host's own address; the floating address must be a free address in the lb hosts' network` });
  checkStorage(spec, errors, warnings, at);

  if (spec.platform === 'hosts') checkInventory(spec, errors, warnings, lbPorts);
  else if (spec.hosts.length) warnings.push(`hosts (the inventory) is only used by platform hosts; ignored for ${spec.platform}`);

  if (spec.database.synchronous && spec.database.ha === 'none') {
    errors.push({ path: at('database.synchronous'), message: 'true needs standbys; choose database.ha streaming or patroni' });
  }
  const standbys = spec.platform === 'hosts' ? hostsWith(spec, 'db').length - 1 : spec.database.replicas;
  if (spec.database.synchronous && spec.database.ha !== 'none' && standbys < 2) {
    warnings.push('synchronous replication with a single standby: when that standby is down, commits wait (streaming) or fall back to asynchronous (patroni); add a second standby');
  }
  checkDatabase(spec, errors, warnings, at, lbPorts);
  checkMonitoring(spec, errors, costs, at);
  errors.push(...backupIssues(spec).map((i) => ({ ...i, path: at(i.path) })));
  costWarnings(spec, costs);
  return { errors, warnings, costs };
}

/** Monitoring settings that cannot work, and its ports against the others on the same hosts. */
function checkMonitoring(spec: Spec, errors: Issue[], costs: string[], at: (p: string) => string): void {
  const m = spec.monitoring;
  if (m.webhookUser && !m.webhookUrl) errors.push({ path: at('monitoring.webhookUser'), message: 'needs monitoring.webhookUrl (the URL it authenticates to); set it, or remove webhookUser' });
  if (!m.enabled) return;
  if (!m.webhookUrl && !m.email) costs.push('monitoring has no receiver: alerts show in Alertmanager\'s web page only; set monitoring.webhookUrl and/or monitoring.email');
  const taken = new Map<number, string>([
    [spec.app.port, 'app.port'], [spec.loadBalancer.httpPort, 'loadBalancer.httpPort'], [spec.database.port, 'database.port'],
    ...(spec.loadBalancer.tls === 'none' ? [] : ([[spec.loadBalancer.httpsPort, 'loadBalancer.httpsPort']] as Array<[number, string]>)),
    ...(spec.loadBalancer.kind === 'haproxy' ? ([[spec.loadBalancer.statsPort, 'loadBalancer.statsPort']] as Array<[number, string]>) : []),
    ...(spec.database.ha === 'patroni' ? (Object.entries(spec.database.endpointPorts).map(([k, v]) => [v, `database.endpointPorts.${k}`]) as Array<[number, string]>) : []),
  ]);
  for (const [p, what] of Object.entries(MONITORING_PORTS)) {
    const other = taken.get(Number(p));
    if (other) errors.push({ path: at(other), message: `${p} is the port of ${what} (monitoring); choose another port` });
  }
}

/** Backup settings that cannot work. */
export function backupIssues(spec: Spec): Issue[] {
  const issues: Issue[] = [];
  if (spec.backup.repository === 's3' && spec.storage.kind !== 's3') {
    issues.push({ path: 'backup.repository', message: `"s3" stores backups in the bundle's MinIO, which exists only with storage s3 (storage is ${spec.storage.kind}); choose backup.repository local or storage s3` });
  }
  return issues;
}

/** What a working spec costs (shown by `plan`, not at every generate): choices that leave a single point of failure or a gap. */
function costWarnings(spec: Spec, costs: string[]): void {
  const warnings = costs;
  const hosts = spec.platform === 'hosts';
  const lbs = hosts ? hostsWith(spec, 'lb').length : spec.platform === 'swarm' ? SWARM_LB_NODES : 1;
  const dbs = hosts ? hostsWith(spec, 'db').length : spec.database.ha === 'none' ? 1 : spec.database.replicas + 1;
  const floating = spec.tier === 'multi-region' ? spec.regions.every((r) => r.floatingAddress) : !!spec.loadBalancer.floatingAddress;
  if (spec.platform !== 'compose' && lbs > 1 && !floating) {
    costs.push('no floating address: clients reach the lb hosts through DNS, and when one dies the clients that resolved it fail until DNS stops returning it (browsers try another record, many API clients do not). Set loadBalancer.floatingAddress (keepalived moves it in ~4 s) where the lb hosts share L2; in public clouds, which drop VRRP, put the provider\'s load balancer or a health-checked DNS failover record (on /lb-health) in front');
  }
  if (spec.tier !== 'single-server' && hosts && lbs < 2) warnings.push(`one load balancer host: it is a single point of failure for tier ${spec.tier}; add a second lb host behind DNS or a floating address`);
  if (spec.backup.repository === 'local' && dbs > 1) {
    warnings.push(`backup.repository local with ${dbs} database servers: each keeps its own repository, so after a failover the new primary starts a new backup chain (its backup runs a full backup); use repository s3 for one chain across failovers`);
  }
  if (spec.backup.repository === 'local' && dbs === 1) warnings.push('backup.repository local keeps the backups on the database server itself: copy the repository off the server (or use repository s3 on another host), or a lost server takes its backups with it');
}

/** Database rules that do not depend on the inventory (those are in checkInventory). */
function checkDatabase(spec: Spec, errors: Issue[], warnings: string[], at: (p: string) => string, lbPorts: Set<number>): void {
  const d = spec.database;
  if (d.tls && spec.platform !== 'hosts') errors.push({ path: at('database.tls'), message: 'true is generated for platform hosts only (certificates on each database host); on compose/swarm keep the database on the internal network or choose platform hosts' });
  if (d.ha !== 'patroni') return;
  const ep = d.endpointPorts;
  if (new Set([ep.write, ep.read, ep.stats]).size < 3) errors.push({ path: at('database.endpointPorts'), message: `write ${ep.write}, read ${ep.read} and stats ${ep.stats} must be three different ports` });
  for (const [k, v] of Object.entries(ep)) {
    if (spec.platform === 'hosts' && lbPorts.has(v)) errors.push({ path: at(`database.endpointPorts.${k}`), message: `${v} is already used by the load balancer on the lb hosts (the database endpoint runs there too); choose another port` });
  }
  if (spec.platform !== 'hosts') {
    const n = d.etcdMembers;
    if (n % 2 === 0) errors.push({ path: at('database.etcdMembers'), message: `${n} etcd members tolerate no more failures than ${n - 1}${n === 2 ? ', and either one dying stops failover' : ''}; use 3 or 5` });
    else if (n === 1) warnings.push('database.etcdMembers 1: a single etcd is a single point of failure for Patroni (the guide\'s setup); with it down no failover can happen; use 3');
    if (d.watchdog === 'required') warnings.push('database.watchdog required: containers rarely have /dev/watchdog, and a member without one will not become leader; use automatic unless the device is passed in');
  }
}

function dupes(xs: string[]): string[] {
  const seen = new Set<string>();
  const out = new Set<string>();
  for (const x of xs) (seen.has(x) ? out : seen).add(x);
  return [...out];
}

function checkInventory(spec: Spec, errors: Issue[], warnings: string[], lbPorts: Set<number>): void {
  if (!spec.hosts.length) {
    errors.push({ path: 'hosts', message: 'is empty: platform hosts needs an inventory, e.g. hosts: [{name: lb1, address: 10.0.1.5, roles: [lb]}, ...]' });
    return;
  }
  dupes(spec.hosts.map((h) => h.name)).forEach((n) => errors.push({ path: 'hosts', message: `host name "${n}" appears more than once` }));
  dupes(spec.hosts.map((h) => h.address)).forEach((a) => errors.push({ path: 'hosts', message: `address "${a}" is given to more than one host` }));
  spec.hosts.forEach((h, i) => {
    dupes(h.roles).forEach((r) => errors.push({ path: `hosts.${i}.roles`, message: `role "${r}" is listed twice` }));
    // An inventory address is what services bind to (docker -p, etcd, PostgreSQL, HAProxy), a pg_hba
    // entry and a firewall rule: a name would make listeners fall back to 0.0.0.0 or refuse to start,
    // and pg_hba names need PTR records. Names stay fine where ha-gen only connects (storage servers, SMTP).
    if (!isIpv4(h.address)) errors.push({ path: `hosts.${i}.address`, message: `"${h.address}" is a DNS name: on platform hosts it must be the host's IPv4 address (e.g. 10.0.1.10), since services bind to it and pg_hba and the firewall name it` });
    if (h.roles.includes('app') && h.roles.includes('lb') && lbPorts.has(spec.app.port)) {
      errors.push({ path: `hosts.${i}`, message: `host "${h.name}" runs the app and the load balancer on port ${spec.app.port}; change app.port or the load balancer ports` });
    }
    if (spec.tier === 'multi-region' && !h.region) errors.push({ path: `hosts.${i}.region`, message: `is missing for host "${h.name}"; multi-region hosts name their region (${spec.regions.map((r) => r.name).join(', ')})` });
    if (h.region && spec.tier === 'multi-region' && !spec.regions.some((r) => r.name === h.region)) {
      errors.push({ path: `hosts.${i}.region`, message: `"${h.region}" is not one of the regions (${spec.regions.map((r) => r.name).join(', ')})` });
    }
  });
  if (spec.tier === 'multi-region') {
    // Each region is a complete multi-server deployment of its own: its roles are counted per region.
    for (const r of spec.regions) {
      const sub: Issue[] = [];
      checkRoles({ ...spec, hosts: spec.hosts.filter((h) => h.region === r.name) }, sub, warnings);
      sub.forEach((e) => errors.push({ path: e.path, message: `region ${r.name}: ${e.message}` }));
    }
  } else checkRoles(spec, errors, warnings);
}

function checkRoles(spec: Spec, errors: Issue[], warnings: string[]): void {
  const count = (role: Role) => hostsWith(spec, role).length;
  for (const role of ['lb', 'app', 'db'] as const) {
    if (!count(role)) errors.push({ path: 'hosts', message: `no host has the role "${role}"; the inventory needs at least one lb, app and db host` });
  }
  if (count('app') && count('app') < 2) errors.push({ path: 'hosts', message: `only ${count('app')} host has the role "app"; high availability needs at least 2` });
  if (spec.database.ha !== 'none' && count('db') < 2) {
    errors.push({ path: 'hosts', message: `database.ha ${spec.database.ha} needs at least 2 hosts with the role "db" (a primary and a standby); found ${count('db')}` });
  }
  if (spec.database.ha === 'none' && count('db') > 1) {
    errors.push({ path: 'hosts', message: `${count('db')} hosts have the role "db" but database.ha is none; choose streaming or patroni, or keep one db host` });
  }
  if (spec.database.ha === 'patroni') {
    const etcd = count('etcd');
    if (etcd === 0) errors.push({ path: 'hosts', message: 'database.ha patroni needs hosts with the role "etcd" (3 for a quorum that survives one loss)' });
    else if (etcd % 2 === 0) errors.push({ path: 'hosts', message: `${etcd} etcd hosts: an even count tolerates no more failures than ${etcd - 1} and ${etcd === 2 ? 'two members lose quorum when either dies' : 'wastes a member'}; use 3 or 5` });
    else if (etcd === 1) warnings.push('a single etcd host is a single point of failure for Patroni (the guide\'s setup): with it down no failover can happen; use 3 etcd hosts');
  }
  if (spec.storage.kind === 'glusterfs' && count('storage') < 3) {
    errors.push({ path: 'hosts', message: `storage glusterfs needs at least 3 hosts with the role "storage" (a replica 3 volume: with 2 copies a partition splits the brain, and Gluster then refuses writes or keeps two versions); found ${count('storage')}` });
  }
  if (spec.storage.kind === 's3' && count('storage') < 1) {
    errors.push({ path: 'hosts', message: 'storage s3 needs a host with the role "storage" to run MinIO on' });
  }
  if (spec.storage.kind === 'nfs' && count('storage') > 1) {
    warnings.push(`storage nfs exports from the first storage host only (${hostsWith(spec, 'storage')[0]!.name}); the others are not used for uploads`);
  }
  if (spec.storage.kind === 'local' && count('app') > 1) {
    errors.push({ path: 'storage.kind', message: `"local" keeps uploads on one server but ${count('app')} app hosts need them; choose nfs, s3 or glusterfs` });
  }
}

/** Shared storage and multi-region settings that the inventory checks do not cover. */
function checkStorage(spec: Spec, errors: Issue[], warnings: string[], at: (p: string) => string): void {
  const s = spec.storage;
  if (s.kind === 'glusterfs' && spec.platform !== 'hosts' && (s.servers.length === 1 || s.servers.length === 2)) {
    errors.push({ path: at('storage.servers'), message: `lists ${s.servers.length} server(s); a replicated GlusterFS volume needs at least 3 (replica 3: with 2 copies a partition splits the brain)` });
  }
  if (spec.tier !== 'single-server' && (s.kind === 'nfs' || s.kind === 's3')) {
    // Selectable (the guide's choice), but the one server is what `plan` then names as lost.
    const where = spec.tier === 'multi-region' ? '' : spec.platform === 'hosts' ? (hostsWith(spec, 'storage')[0]?.name ?? '') : s.kind === 'nfs' ? s.nfsServer : '';
    warnings.push(`storage ${s.kind} has one server${where ? ` (${where})` : ''}${spec.tier === 'multi-region' ? ' per region' : ''}: while it is down, uploads fail or hang on every app host, so the tier does not survive that server's loss; storage glusterfs (a replica 3 volume over 3 storage hosts) has no single server`);
  }
  if (s.kind !== 'glusterfs' && s.servers.length) warnings.push(`storage.servers is only used by storage glusterfs; ignored for ${s.kind}`);
  if (spec.tier === 'multi-region') {
    if (s.kind === 'nfs' || s.kind === 'glusterfs') {
      warnings.push(`storage ${s.kind} is per region: uploads written in one region are not copied to the others (use s3 with MinIO site replication, or a replicated object store)`);
    }
    const used = new Set<string>();
    spec.regions.forEach((r, i) => {
      if (r.address && used.has(r.address)) errors.push({ path: `regions.${i}.address`, message: `"${r.address}" is given to more than one region` });
      if (r.address) used.add(r.address);
    });
  }
}
