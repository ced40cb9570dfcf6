/**
 * The questions of `ha-gen init`. The only importer of @inquirer/prompts; tests pass a fake
 * Prompter that answers by question name and fails on a question it did not expect.
 */
import type { Spec } from '../spec/schema.js';
import { FORMS } from '../spec/schema.js';
import { TIER_PRESETS, TIER_SUMMARY } from '../spec/presets.js';
import { acmeAvailable } from '../spec/rules.js';
import { LOAD_BALANCERS } from '../targets/lb/index.js';

export interface Choice<T extends string> {
  value: T;
  name: string;
  description: string;
}

export interface Prompter {
  select<T extends string>(q: { name: string; message: string; choices: Choice<T>[]; default: T }): Promise<T>;
  input(q: { name: string; message: string; default?: string; validate: (v: string) => true | string }): Promise<string>;
  confirm(q: { name: string; message: string; default: boolean }): Promise<boolean>;
}

type Plain = Record<string, unknown>;
const get = (o: Plain, keyPath: string): unknown => keyPath.split('.').reduce<unknown>((c, k) => (c as Plain | undefined)?.[k], o);
function set(o: Plain, keyPath: string, v: unknown): void {
  const ks = keyPath.split('.');
  let cur = o;
  for (const k of ks.slice(0, -1)) cur = (cur[k] ??= {}) as Plain;
  cur[ks[ks.length - 1]!] = v;
}

const check = (form: keyof typeof FORMS, optional = false) => (v: string) =>
  (optional && v === '') || FORMS[form].re.test(v) ? true : `must be ${FORMS[form].text}`;

/**
 * Example inventory for platform hosts, written into the spec for the user to edit. It satisfies
 * every inventory rule for the chosen tier, database and storage, so the wizard never ends in a
 * refusal: one db host without HA, 2 for streaming, 3 (with etcd) for Patroni; 3 GlusterFS hosts
 * (replica 3: a majority survives one loss without split-brain); for the multi-server tiers two lb
 * hosts behind a floating address (exampleFront); and for multi-region a complete set per region.
 */
export function exampleInventory(spec: { tier: string; database: { ha: string }; storage?: { kind?: string }; regions?: Array<{ name: string }> }): Spec['hosts'] {
  const ha = spec.database.ha;
  const storage = spec.storage?.kind ?? 'nfs';
  const dbCount = ha === 'none' ? 1 : ha === 'patroni' ? 3 : 2;
  const storageCount = storage === 'glusterfs' ? 3 : storage === 'local' ? 0 : 1;
  const lbCount = spec.tier === 'single-server' ? 1 : 2;
  const storageName = storage === 'glusterfs' ? 'gluster' : storage === 's3' ? 'minio' : 'nfs';
  const set = (net: number, suffix: string, region?: string): Spec['hosts'] => {
    const at = (sub: number, host: number) => `10.${net}.${sub}.${host}`;
    const hosts: Spec['hosts'] = [];
    for (let i = 1; i <= lbCount; i++) hosts.push({ name: `lb${i}${suffix}`, address: at(1, 4 + i), roles: ['lb'] });
    for (let i = 1; i <= 3; i++) hosts.push({ name: `app${i}${suffix}`, address: at(1, 9 + i), roles: ['app'] });
    for (let i = 1; i <= dbCount; i++) hosts.push({ name: `db${i}${suffix}`, address: at(2, 9 + i), roles: ha === 'patroni' ? ['db', 'etcd'] : ['db'] });
    for (let i = 1; i <= storageCount; i++) hosts.push({ name: `${storageName}${i}${suffix}`, address: at(3, 9 + i), roles: ['storage'] });
    return region ? hosts.map((h) => ({ ...h, region })) : hosts;
  };
  if (spec.tier === 'multi-region') return (spec.regions ?? []).flatMap((r, i) => set(i, `-${r.name}`, r.name));
  return set(0, '');
}

/** The floating address of the example inventory's lb hosts (10.<region>.1.4), for the multi-server tiers. */
export function exampleFront(tier: string, regions?: Array<{ name: string }>): Plain {
  if (tier === 'single-server') return {};
  if (tier === 'multi-region') return { regions: (regions ?? []).map((r, i) => ({ ...r, floatingAddress: `10.${i}.1.4` })) };
  return { loadBalancer: { floatingAddress: '10.0.1.4' } };
}

/** Uploads on separate app hosts need shared storage: on hosts a single-server tier defaults to nfs, not the preset's local. */
function defaultStorage(tier: Spec['tier'], platform: unknown): string {
  const preset = TIER_PRESETS[tier] ?? {};
  return platform === 'hosts' && tier === 'single-server' ? 'nfs' : ((preset.storage as { kind?: string } | undefined)?.kind ?? 'local');
}

/**
 * What `init --yes --platform hosts` adds to the flags (the wizard's own defaults): the example
 * inventory, and the storage it assumes when the flags chose none; undefined when not needed.
 */
export function defaultInventory(given: Plain): ({ hosts: Spec['hosts']; storage?: { kind: string } } & Plain) | undefined {
  const tier = (get(given, 'tier') ?? 'single-server') as Spec['tier'];
  const preset = TIER_PRESETS[tier] ?? {};
  const platform = get(given, 'platform') ?? preset.platform;
  if (platform !== 'hosts' || get(given, 'hosts') !== undefined) return undefined;
  const givenStorage = get(given, 'storage.kind') as string | undefined;
  const storage = givenStorage ?? defaultStorage(tier, platform);
  const regions = (get(given, 'regions') as Array<{ name: string }> | undefined) ?? preset.regions;
  const hosts = exampleInventory({
    tier,
    database: { ha: String(get(given, 'database.ha') ?? preset.database?.ha ?? 'none') },
    storage: { kind: storage },
    regions,
  });
  const front = get(given, 'loadBalancer.floatingAddress') === undefined ? exampleFront(tier, regions) : {};
  return givenStorage === undefined ? { hosts, storage: { kind: storage }, ...front } : { hosts, ...front };
}

/**
 * What `init --yes` adds to the flags: the example inventory on platform hosts (defaultInventory) and,
 * for the multi-server tiers, an example floating address for the lb hosts or Swarm lb nodes, with
 * a note that says which values to edit. Undefined when the flags need nothing.
 */
export function defaultExamples(given: Plain): { values: Plain; note: string } | undefined {
  const inv = defaultInventory(given);
  const tier = (get(given, 'tier') ?? 'single-server') as Spec['tier'];
  const preset = TIER_PRESETS[tier] ?? {};
  const platform = get(given, 'platform') ?? preset.platform;
  const front = platform === 'swarm' && get(given, 'loadBalancer.floatingAddress') === undefined ? exampleFront(tier, (get(given, 'regions') as Array<{ name: string }> | undefined) ?? preset.regions) : {};
  const values = { ...front, ...(inv ?? {}) };
  if (!Object.keys(values).length) return undefined;
  const floating = inv?.loadBalancer ?? front.loadBalancer ?? inv?.regions ?? front.regions;
  const parts = [inv ? `an example inventory of ${inv.hosts.length} hosts` : '', floating ? 'an example floating address for the load balancers' : ''].filter(Boolean);
  return { values, note: `the spec gets ${parts.join(' and ')}: edit the names and addresses, then run \`ha-gen generate\`` };
}

/** Asks only what `given` (the flags) leaves open; returns the answers as a partial spec. */
export async function askQuestions(given: Plain, p: Prompter): Promise<Plain> {
  const a: Plain = {};
  const has = (k: string) => get(given, k) !== undefined;
  const cur = (k: string) => get(a, k) ?? get(given, k);

  if (!has('tier')) {
    a.tier = await p.select({
      name: 'tier',
      message: 'Which tier of the HA guide?',
      default: 'single-server',
      choices: (['single-server', 'multi-server', 'multi-region'] as const).map((t) => ({
        value: t,
        name: `${t} (${TIER_SUMMARY[t].availability})`,
        description: `${TIER_SUMMARY[t].availability} availability (${TIER_SUMMARY[t].downtime} down); survives ${TIER_SUMMARY[t].survives}`,
      })),
    });
  }
  const tier = cur('tier') as Spec['tier'];
  const preset = TIER_PRESETS[tier];
  const single = tier === 'single-server';

  if (!has('platform')) {
    a.platform = await p.select({
      name: 'platform',
      message: 'Where does it run?',
      default: preset.platform ?? 'compose',
      choices: [
        ...(single ? [{ value: 'compose' as const, name: 'compose', description: 'One Docker host with docker compose' }] : []),
        { value: 'swarm' as const, name: 'swarm', description: 'A Docker Swarm cluster: replicas spread over nodes, rolling updates built in' },
        { value: 'hosts' as const, name: 'hosts', description: 'VMs or bare metal with systemd units (an inventory of hosts in ha-gen.yaml)' },
      ],
    });
  }
  if (!has('loadBalancer.kind')) {
    set(a, 'loadBalancer.kind', await p.select({
      name: 'lb',
      message: 'Which load balancer in front of the app?',
      default: 'nginx',
      choices: Object.values(LOAD_BALANCERS).map((l) => ({ value: l.kind, name: l.kind, description: l.summary })),
    }));
  }
  if (!has('database.ha')) {
    set(a, 'database.ha', await p.select({
      name: 'db',
      message: 'Database high availability?',
      default: preset.database?.ha ?? 'none',
      choices: [
        ...(single ? [{ value: 'none' as const, name: 'none', description: 'One PostgreSQL server (restarted automatically; no standby)' }] : []),
        { value: 'streaming' as const, name: 'streaming', description: 'Primary + streaming replica; promote by running one script' },
        { value: 'patroni' as const, name: 'patroni', description: 'Patroni + 3 etcd: automatic failover in about 10 s' },
      ],
    }));
  }
  if (!has('storage.kind')) {
    set(a, 'storage.kind', await p.select({
      name: 'storage',
      message: 'Where do uploads live?',
      default: defaultStorage(tier, cur('platform')) as 'local',
      choices: [
        // local works on one server only; an inventory of hosts has several app servers
        ...(single && cur('platform') !== 'hosts' ? [{ value: 'local' as const, name: 'local', description: 'A Docker volume on this server' }] : []),
        { value: 'nfs' as const, name: 'nfs', description: 'An NFS export mounted by every app server' },
        { value: 's3' as const, name: 's3', description: 'S3-compatible object storage (MinIO); the app must support S3' },
        { value: 'glusterfs' as const, name: 'glusterfs', description: 'A replicated GlusterFS volume' },
      ],
    }));
  }
  if (!has('domain')) {
    const d = await p.input({ name: 'domain', message: 'Public domain of the app (empty: none, plain HTTP)', default: '', validate: check('fqdn', true) });
    if (d) a.domain = d;
  }
  if (!has('loadBalancer.tls')) {
    const domain = cur('domain');
    const acme = Boolean(domain) && acmeAvailable(cur('platform') as string | undefined, cur('loadBalancer.kind') as string | undefined);
    set(a, 'loadBalancer.tls', await p.select({
      name: 'tls',
      message: 'HTTPS?',
      default: acme ? 'acme' : 'none',
      choices: [
        { value: 'none', name: 'none', description: 'Plain HTTP (behind another proxy or for a first try)' },
        { value: 'files', name: 'files', description: 'Your own certificate and key files' },
        ...(acme ? [{ value: 'acme' as const, name: 'acme', description: "Automatic certificates from Let's Encrypt for the domain" }] : []),
      ],
    }));
  }
  if (!has('app.image')) {
    set(a, 'app.image', await p.input({ name: 'appImage', message: 'App image', default: 'ghcr.io/victorytek/home-registry:latest', validate: check('image') }));
  }
  if (!has('monitoring.enabled')) {
    set(a, 'monitoring.enabled', await p.confirm({ name: 'monitoring', message: 'Monitoring and alerting (Prometheus, Alertmanager, alert rules for every failure)?', default: !single }));
  }
  if (cur('monitoring.enabled') === true && !has('monitoring.webhookUrl')) {
    const url = await p.input({ name: 'alertWebhook', message: 'Webhook URL for alerts (empty: none yet; e-mail and webhook settings are in ha-gen.yaml under monitoring)', default: '', validate: check('webhookUrl', true) });
    if (url) set(a, 'monitoring.webhookUrl', url);
  }
  const regions = (get(given, 'regions') as Array<{ name: string }> | undefined) ?? preset.regions;
  if (cur('platform') === 'hosts' && !has('hosts')) a.hosts = exampleInventory({ tier, database: { ha: String(cur('database.ha')) }, storage: { kind: String(cur('storage.kind')) }, regions });
  if ((cur('platform') === 'hosts' && !has('hosts')) || cur('platform') === 'swarm') {
    if (!has('loadBalancer.floatingAddress')) {
      const front = exampleFront(tier, regions);
      if (front.regions) a.regions = front.regions;
      if (front.loadBalancer) set(a, 'loadBalancer.floatingAddress', (front.loadBalancer as Plain).floatingAddress);
    }
  }
  return a;
}

export async function confirmWrite(p: Prompter, spec: Spec, config: string, outDir: string, files: number, conflicts: number): Promise<boolean> {
  const lines = [
    `tier ${spec.tier} (${TIER_SUMMARY[spec.tier].availability}), platform ${spec.platform}, ${spec.loadBalancer.kind}, database ${spec.database.ha}, storage ${spec.storage.kind}, tls ${spec.loadBalancer.tls}`,
  ];
  if (spec.platform === 'hosts') lines.push(`an example inventory of ${spec.hosts.length} hosts: edit the addresses in ${config}, then run \`ha-gen generate\``);
  process.stdout.write(`\n${lines.map((l) => `  ${l}`).join('\n')}\n\n`);
  return p.confirm({
    name: 'confirm',
    message: `Write ${config} and ${files} files into ${outDir}/?${conflicts ? ` (${conflicts} existing file(s) would need --force)` : ''}`,
    default: true,
  });
}

export async function inquirerPrompter(): Promise<Prompter> {
  const { select, input, confirm } = await import('@inquirer/prompts');
  return {
    select: (q) => select({ message: q.message, choices: q.choices, default: q.default }),
    input: (q) => input({ message: q.message, default: q.default, validate: q.validate }),
    confirm: (q) => confirm({ message: q.message, default: q.default }),
  };
}
