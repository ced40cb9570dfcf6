import { z } from 'zod';
import { SpecError, type Issue } from '../errors.js';
import { TIER_PRESETS } from './presets.js';
import { specSchema, TIERS, SPEC_VERSION, type Spec, type Host, type Role } from './schema.js';

type Plain = Record<string, unknown>;

/** A layer of settings with where it came from, so errors can name the flag or the file. */
export interface Layer {
  source: 'file' | 'flags' | 'answers';
  values: Plain;
  /** key path -> flag name, for values that came from flags. */
  flagOf?: Record<string, string>;
}

export interface Resolved {
  spec: Spec;
  warnings: string[];
}

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; arrays and scalars from the later layer replace. */
export function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

/** Spec files from older format versions are upgraded here, one step at a time (v1 is the first). */
const MIGRATIONS: Record<number, (doc: Plain) => Plain> = {};

/** migrations and current are parameters for tests (a fake v0 -> v1 step); callers use the defaults. */
export function migrate(doc: Plain, migrations: Record<number, (doc: Plain) => Plain> = MIGRATIONS, current: number = SPEC_VERSION): Plain {
  const v = doc.version ?? current;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new SpecError('the spec file has an invalid version', [{ path: 'version', message: `${JSON.stringify(v)} is not a format version; this ha-gen reads version ${current}` }]);
  }
  if (v > current) {
    throw new SpecError('the spec file is newer than this ha-gen', [{ path: 'version', message: `version ${v} is newer than this ha-gen understands (${current}); upgrade ha-gen` }]);
  }
  let cur = doc;
  for (let from = v; from < current; from++) {
    const step = migrations[from];
    if (!step) throw new SpecError('unsupported spec version', [{ path: 'version', message: `version ${from} cannot be read by this ha-gen (reads ${current})` }]);
    cur = step(cur);
    if (cur.version !== from + 1) throw new Error(`internal: spec migration from version ${from} did not produce version ${from + 1}`);
  }
  return cur;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function valueAt(obj: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** Zod issues as messages naming the key (or flag), the value given and what is allowed. */
export function zodIssues(err: z.ZodError, input: unknown, flagOf: Record<string, string>): Issue[] {
  return err.issues.map((iss) => {
    const keyPath = iss.path.map(String).join('.') || '(root)';
    const flag = flagOf[iss.path.map(String).join('.')];
    const where = flag ? `${flag} (${keyPath})` : keyPath;
    const value = valueAt(input, iss.path);
    if (iss.code === 'unrecognized_keys') {
      return { path: keyPath, message: `unknown key${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}; see \`ha-gen schema\` for the allowed keys` };
    }
    if (iss.code === 'invalid_key') {
      // A record key (app.env) that is not of its form: name the key and what is allowed.
      const why = iss.issues.map((i) => i.message).find((m) => m.startsWith('must')) ?? 'is not an allowed key';
      return { path: iss.path.slice(0, -1).map(String).join('.') || '(root)', message: `key ${describeValue(iss.path[iss.path.length - 1])} ${why}` };
    }
    if (iss.code === 'invalid_value' && 'values' in iss) {
      return { path: where, message: `${describeValue(value)} is not allowed; allowed: ${(iss.values as unknown[]).map(String).join(' | ')}` };
    }
    if (iss.code === 'invalid_type') {
      return { path: where, message: `${describeValue(value)} has the wrong type; expected ${iss.expected}` };
    }
    if (iss.code === 'too_small' || iss.code === 'too_big') {
      return { path: where, message: `${describeValue(value)} is out of range: ${iss.message.replace(/^Too (small|big): expected \w+ to (have|be) /, 'must be ')}` };
    }
    return { path: where, message: `${describeValue(value)} ${iss.message.startsWith('must') ? iss.message : `is invalid: ${iss.message}`}` };
  });
}

/** preset(tier) + spec file + flags + wizard answers -> a valid Spec, or a SpecError listing every problem. */
export function resolveSpec(layers: Layer[]): Resolved {
  const flagOf = Object.assign({}, ...layers.map((l) => l.flagOf ?? {})) as Record<string, string>;
  const merged0 = layers.reduce<Plain>((acc, l) => deepMerge(acc, l.values), {});
  const tier = merged0.tier;
  const preset = typeof tier === 'string' && (TIERS as readonly string[]).includes(tier) ? TIER_PRESETS[tier as Spec['tier']] : {};
  const merged = deepMerge(preset as Plain, merged0);
  const parsed = specSchema.safeParse(merged);
  if (!parsed.success) {
    throw new SpecError('the spec is not valid', zodIssues(parsed.error, merged, flagOf));
  }
  const spec = parsed.data;
  const { errors, warnings } = checkRules(spec, flagOf);
  if (errors.length) throw new SpecError('the spec asks for something that cannot work', errors);
  return { spec: normalize(spec), warnings };
}

// Renderers ask for the same role lists once per host: memoised per inventory array (specs are never mutated).
const byRole = new WeakMap<Host[], Map<Role, Host[]>>();
export function hostsWith(spec: Pick<Spec, 'hosts'>, role: Role): Host[] {
  let m = byRole.get(spec.hosts);
  if (!m) byRole.set(spec.hosts, (m = new Map()));
  let hs = m.get(role);
  if (!hs) m.set(role, (hs = spec.hosts.filter((h) => h.roles.includes(role))));
  return hs;
}

/** Settings that follow from others, so renderers need not re-derive them. */
function normalize(spec: Spec): Spec {
  if (spec.platform === 'hosts') {
    const appHosts = hostsWith(spec, 'app').length;
    const dbHosts = hostsWith(spec, 'db').length;
    // Without database HA the standby count is unused; keep it in the schema's range so the spec file init writes reads back.
    const replicas = spec.database.ha === 'none' ? spec.database.replicas : Math.max(1, dbHosts - 1);
    return { ...spec, app: { ...spec.app, replicas: appHosts }, database: { ...spec.database, replicas } };
  }
  return spec;
}

/** Cross-field rules: combinations that cannot deliver their tier, inventories that cannot form the topology. */
export function checkRules(spec: Spec, flagOf: Record<string, string> = {}): { errors: Issue[]; warnings: string[] } {
  const errors: Issue[] = [];
  const warnings: string[] = [];
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
  return { errors, warnings };
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
  if (spec.storage.kind === 'glusterfs' && count('storage') < 2) {
    errors.push({ path: 'hosts', message: `storage glusterfs needs at least 2 hosts with the role "storage" (replicated volume); found ${count('storage')}` });
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
  if (s.kind === 'glusterfs' && spec.platform !== 'hosts' && s.servers.length === 1) {
    errors.push({ path: at('storage.servers'), message: 'lists 1 server; a replicated GlusterFS volume needs at least 2 (3 avoids split-brain)' });
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
