/**
 * Shared pieces of the property suite: the FC_NUM_RUNS knob, hostile-string arbitraries, the list
 * of every user string field (derived from the JSON Schema, so a new field is covered the day it is
 * added), base specs that exercise each target, and in-process spec -> bundle rendering.
 *
 *   FC_NUM_RUNS=500 npx vitest run test/property   # longer local run (default is small for CI)
 */
import * as fc from 'fast-check';
import { SpecError } from '../../src/errors.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import { FORMS, jsonSchema, type FormName } from '../../src/spec/schema.js';
import { render, type Bundle } from '../../src/render/index.js';
import { PATRONI_HOSTS } from '../helpers/presets.js';

/** Cases per property; FC_NUM_RUNS overrides (e.g. 1000 for a soak run). */
export const NUM_RUNS = Math.max(1, Number(process.env.FC_NUM_RUNS ?? 15) || 15);
/** Optional fixed seed to replay a failure (fast-check prints it). */
export const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;

/** Cases each property ran, printed at the end of a file (the issue note lists them). */
export const ranCases = new Map<string, number>();
export function countCase(property: string): void {
  ranCases.set(property, (ranCases.get(property) ?? 0) + 1);
}
export function printCaseCounts(file: string): void {
  const lines = [...ranCases.entries()].map(([k, n]) => `  ${String(n).padStart(6)}  ${k}`);
  console.log(`[${file}] property cases run (FC_NUM_RUNS=${NUM_RUNS}):\n${lines.join('\n')}`);
}

export const fcParams = (runs = NUM_RUNS): fc.Parameters<unknown> => ({ numRuns: runs, seed: SEED, endOnFailure: true });

// ---- hostile strings ----------------------------------------------------------------------------
/** Fragments that change meaning in at least one output format. */
export const NASTY = ['\n', '\r\n', '\r', ';', '{', '}', '"', "'", '$(', ')', '`', '#', '\\', ' ', '\t', '${', '}', '%', '\0', '&&', '|', '&', '<', '>', '=', ':', ',', '\u2028', '\u0085', '--', '/*', '*/', '..', '/', '\\n', '%[src]', '{{', '}}', '*', '@', '!', '[', ']', '\x1b[31m', 'é', '\u200b', '\uFEFF', '- ', ': ', '? ', '|-'];

export const nastyFragment = fc.constantFrom(...NASTY);
export const nastyString = fc.array(fc.oneof({ arbitrary: nastyFragment, weight: 3 }, { arbitrary: fc.string({ maxLength: 3 }), weight: 1 }), { minLength: 1, maxLength: 6 }).map((xs) => xs.join(''));

// ---- valid values per form (to reach the "accepted" branch) ---------------------------------------
const lower = 'abcdefghijklmnopqrstuvwxyz';
const digits = '0123456789';
const chars = (set: string, min: number, max: number) => fc.string({ unit: fc.constantFrom(...set.split('')), minLength: min, maxLength: max });
const label = fc.tuple(chars(lower + digits, 1, 1), chars(lower + digits + '-', 0, 10), chars(lower + digits, 0, 1)).map(([a, b, c]) => (c ? a + b + c : a));
const octet = fc.integer({ min: 0, max: 255 }).map(String);
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const fqdn = fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), chars(lower, 1, 1), chars(lower + digits, 0, 5)).map(([ls, a, b]) => `${ls.join('.')}.${a}${b}`);
const pathSeg = chars(lower + digits + '._-', 1, 8).filter((s) => s !== '.' && s !== '..');

export const VALID: Record<FormName, fc.Arbitrary<string>> = {
  name: fc.tuple(chars(lower, 1, 1), chars(lower + digits + '-', 0, 20), chars(lower + digits, 1, 1)).map(([a, b, c]) => a + b + c),
  hostName: label,
  fqdn,
  ipv4,
  address: fc.oneof(ipv4, fqdn, label),
  cidr: fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`),
  image: fc.tuple(fc.array(label.filter((l) => !l.includes('-')), { minLength: 1, maxLength: 3 }), fc.option(chars(lower + digits + '._-', 1, 10).filter((t) => /^[A-Za-z0-9_]/.test(t)))).map(([ps, tag]) => `${ps.join('/')}${tag ? `:${tag}` : ''}`),
  urlPath: chars(lower + digits + '._~/-', 0, 20).map((s) => `/${s}`),
  absPath: fc.array(pathSeg, { minLength: 1, maxLength: 4 }).map((ss) => `/${ss.join('/')}`),
  dbIdent: fc.tuple(chars(lower + '_', 1, 1), chars(lower + digits + '_', 0, 20)).map(([a, b]) => a + b),
  email: fc.tuple(chars(lower + digits + '._%+-', 1, 10), fqdn.filter((d) => /\.[a-z]{2,}$/.test(d))).map(([u, d]) => `${u}@${d}`),
  envName: fc.tuple(chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 1, 1), chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_', 0, 12)).map(([a, b]) => a + b),
  envValue: chars('ABCxyz0123456789._:/@+=,-', 0, 30),
  size: fc.tuple(fc.integer({ min: 1, max: 99999 }), fc.constantFrom('k', 'm', 'g')).map(([n, u]) => `${n}${u}`),
  interfaceName: fc.tuple(chars(lower, 1, 1), chars(lower + digits + '_.-', 0, 14)).map(([a, b]) => a + b),
  webhookUrl: fc.tuple(fc.constantFrom('http', 'https'), fc.oneof(ipv4, fqdn), fc.option(fc.integer({ min: 1, max: 65535 })), chars(lower + digits + '._~/-', 0, 20)).map(([s, h, p, path]) => `${s}://${h}${p ? `:${p}` : ''}/${path}`),
};

/** A plain value of each form for baselines (fields a base spec leaves unset). */
export const BENIGN: Record<FormName, string> = {
  name: 'benign-name',
  hostName: 'benignhost',
  fqdn: 'benign.example.com',
  ipv4: '10.9.8.7',
  address: '10.9.8.7',
  cidr: '10.9.0.0/16',
  image: 'registry.example.com/team/benign:1.0',
  urlPath: '/benign',
  absPath: '/srv/benign/path',
  dbIdent: 'benign_ident',
  email: 'ops@example.com',
  envName: 'BENIGN_NAME',
  envValue: 'benign-value',
  size: '10m',
  interfaceName: 'eth0',
  webhookUrl: 'https://alerts.example.com/hook',
};

// ---- the fields ----------------------------------------------------------------------------------
export interface Field {
  /** Path with [] for array items and <key>/<val> for record entries, e.g. hosts[].name, app.env.<key>. */
  path: string;
  form: FormName | null;
  pattern: string | null;
  valid: fc.Arbitrary<string>;
  benign: string;
  /** Other plain values with a different meaning (an IP and a DNS name; Patroni before and after 3.0.3). */
  reps: string[];
}

/** Valid values of a field can legitimately change what is generated; a candidate must match one of these baselines. */
const FORM_REPS: Partial<Record<FormName, string[]>> = { address: ['10.9.8.7', 'benign.internal'] };
const PATH_REPS: Record<string, string[]> = { 'database.patroniVersion': ['3.0.2', '3.0.3', '4.0.4'] };

type JS = Record<string, unknown>;

function formOfPattern(pattern: string | undefined): FormName | null {
  if (!pattern) return null;
  for (const [name, f] of Object.entries(FORMS)) if (f.re.source === pattern) return name as FormName;
  return null;
}

/** Every string leaf of the spec (from the JSON Schema): the user strings that may reach a file. */
export function stringFields(): { fields: Field[]; unconstrained: string[] } {
  const fields: Field[] = [];
  const unconstrained: string[] = [];
  const add = (p: string, n: JS) => {
    const pattern = typeof n.pattern === 'string' ? n.pattern : null;
    if (!pattern && !Array.isArray(n.enum) && n.const === undefined) unconstrained.push(p);
    if (!pattern) return;
    const form = formOfPattern(pattern);
    const valid = form ? VALID[form] : fc.stringMatching(new RegExp(pattern));
    const benign = form ? BENIGN[form] : (fc.sample(valid, { numRuns: 1, seed: 1 })[0] as string);
    fields.push({ path: p, form, pattern, valid, benign, reps: [...(form ? FORM_REPS[form] ?? [] : []), ...(PATH_REPS[p] ?? [])] });
  };
  const walk = (n: JS | undefined, p: string): void => {
    if (!n || typeof n !== 'object') return;
    for (const k of ['anyOf', 'oneOf', 'allOf'] as const) if (Array.isArray(n[k])) (n[k] as JS[]).forEach((x) => walk(x, p));
    if (n.type === 'string') add(p, n);
    if (n.type === 'object' || n.properties) {
      for (const [k, v] of Object.entries((n.properties ?? {}) as Record<string, JS>)) walk(v, p ? `${p}.${k}` : k);
      if (n.additionalProperties && typeof n.additionalProperties === 'object') {
        if (n.propertyNames) add(`${p}.<key>`, n.propertyNames as JS);
        else unconstrained.push(`${p}.<key>`);
        walk(n.additionalProperties as JS, `${p}.<val>`);
      }
    }
    if (n.type === 'array' && n.items) walk(n.items as JS, `${p}[]`);
  };
  walk(jsonSchema() as JS, '');
  // Dedupe (anyOf branches can list a leaf twice).
  const seen = new Set<string>();
  return { fields: fields.filter((f) => !seen.has(f.path) && seen.add(f.path)), unconstrained: [...new Set(unconstrained)] };
}

// ---- base specs ----------------------------------------------------------------------------------
const inventory = (extra: Array<{ name: string; address: string; roles: string[]; region?: string }> = []) => [
  ...PATRONI_HOSTS,
  { name: 'nas1', address: '10.0.3.10', roles: ['storage'] },
  ...extra,
];

const common = {
  version: 1,
  name: 'shop-front',
  app: { image: 'ghcr.io/acme/shop:2.1', env: { RUST_LOG: 'info', FEATURE_X: 'enabled-7' }, healthPath: '/healthz' },
  database: { name: 'shop_db', user: 'shop_app', allowedCidrs: ['10.50.0.0/16'] },
  // Every monitoring string (off for single-server, still validated; rendered on the hosts bases).
  monitoring: { webhookUrl: 'https://alerts.example.com/hook', webhookUser: 'alerts', email: { smarthost: 'smtp.example.com', from: 'ha@example.com', to: ['ops@example.com', 'dba@example.com'], user: 'ha@example.com' } },
};

/** Spec files covering each platform, load balancer, TLS mode, database mode and storage kind. */
export const BASES: Array<{ id: string; values: Record<string, unknown> }> = [
  { id: 'compose-nginx-none', values: { ...common, tier: 'single-server', loadBalancer: { kind: 'nginx', tls: 'none' } } },
  { id: 'compose-haproxy-files', values: { ...common, tier: 'single-server', loadBalancer: { kind: 'haproxy', tls: 'files', certFile: '/etc/ssl/certs/shop.pem', keyFile: '/etc/ssl/private/shop.key' } } },
  { id: 'compose-caddy-acme', values: { ...common, tier: 'single-server', domain: 'shop.example.com', loadBalancer: { kind: 'caddy', tls: 'acme', acmeEmail: 'ops@example.com' } } },
  { id: 'compose-nginx-files', values: { ...common, tier: 'single-server', domain: 'shop.example.com', loadBalancer: { kind: 'nginx', tls: 'files' } } },
  { id: 'swarm-streaming-nfs', values: { ...common, tier: 'multi-server', platform: 'swarm', database: { ...common.database, ha: 'streaming' }, storage: { kind: 'nfs', nfsServer: '10.0.3.3', nfsExport: '/exports/shop' }, loadBalancer: { kind: 'haproxy', tls: 'files' } } },
  { id: 'swarm-patroni-s3', values: { ...common, tier: 'multi-server', platform: 'swarm', database: { ...common.database, ha: 'patroni' }, storage: { kind: 's3', bucket: 'shop-uploads' }, loadBalancer: { kind: 'caddy', tls: 'acme' }, domain: 'shop.example.com' } },
  { id: 'hosts-streaming-nfs', values: { ...common, tier: 'multi-server', platform: 'hosts', database: { ...common.database, ha: 'streaming' }, storage: { kind: 'nfs', nfsExport: '/exports/shop' }, loadBalancer: { kind: 'haproxy', tls: 'files' }, hosts: inventory() } },
  { id: 'hosts-patroni-nfs', values: { ...common, tier: 'multi-server', platform: 'hosts', database: { ...common.database, ha: 'patroni' }, storage: { kind: 'nfs' }, loadBalancer: { kind: 'nginx', tls: 'files' }, hosts: inventory() } },
  { id: 'hosts-patroni-gluster-caddy', values: { ...common, tier: 'multi-server', platform: 'hosts', domain: 'shop.example.com', database: { ...common.database, ha: 'patroni' }, storage: { kind: 'glusterfs' }, loadBalancer: { kind: 'caddy', tls: 'acme', acmeEmail: 'ops@example.com' }, hosts: inventory([{ name: 'nas2', address: '10.0.3.5', roles: ['storage'] }, { name: 'nas3', address: '10.0.3.6', roles: ['storage'] }]) } },
  {
    id: 'swarm-multi-region',
    values: { ...common, tier: 'multi-region', platform: 'swarm', domain: 'shop.example.com', loadBalancer: { kind: 'nginx', tls: 'files' }, regions: [{ name: 'us-east', primary: true, domain: 'us.shop.example.com' }, { name: 'eu-west', domain: 'eu.shop.example.com' }] },
  },
  {
    id: 'hosts-multi-region',
    values: {
      ...common, tier: 'multi-region', platform: 'hosts', domain: 'shop.example.com', database: { ...common.database, ha: 'patroni' }, storage: { kind: 's3' }, loadBalancer: { kind: 'haproxy', tls: 'files' },
      regions: [{ name: 'us-east', primary: true, domain: 'us.shop.example.com' }, { name: 'eu-west', domain: 'eu.shop.example.com' }],
      hosts: [
        ...inventory().map((h) => ({ ...h, region: 'us-east' })),
        ...inventory().map((h) => ({ ...h, name: `${h.name}e`, address: h.address.replace(/^10\.0\./, '10.1.'), region: 'eu-west' })),
      ],
    },
  },
];

export const CTX = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };

export function renderValues(values: Record<string, unknown>): Bundle {
  const { spec } = resolveSpec([{ source: 'file', values: structuredClone(values) }]);
  return render(spec, CTX);
}

export type RenderedBase = { id: string; values: Record<string, unknown>; bundle: Bundle };

/**
 * Every base spec with its bundle. A base the schema or rules refuse is a bug in this file; a base
 * whose render throws is a bug in a renderer. Either throws (naming every failing base), so the
 * property and security suites that use the bases fail instead of silently covering fewer targets.
 */
export function renderBases(): RenderedBase[] {
  const ok: RenderedBase[] = [];
  const failed: string[] = [];
  const why = (e: unknown) => `${e instanceof Error ? e.message : String(e)}${e instanceof SpecError ? ` (${e.issues.map((i) => `${i.path}: ${i.message}`).join('; ')})` : ''}`;
  for (const b of BASES) {
    try {
      resolveSpec([{ source: 'file', values: structuredClone(b.values) }]);
    } catch (e) {
      failed.push(`base spec ${b.id} is refused by the schema/rules: ${why(e)}`);
      continue;
    }
    try {
      ok.push({ ...b, bundle: renderValues(b.values) });
    } catch (e) {
      failed.push(`base spec ${b.id} does not render: ${why(e)}`);
    }
  }
  if (failed.length) throw new Error(`${failed.length} of ${BASES.length} base spec(s) fail:\n  ${failed.join('\n  ')}`);
  return ok;
}

// ---- setting a field in a spec ---------------------------------------------------------------------
/** Concrete key paths a field can take in a base (array items get each index; records their entries). */
export function slotsOf(field: Field, values: Record<string, unknown>): string[] {
  const parts = field.path.split('.');
  let slots: string[] = [''];
  let objs: unknown[] = [values];
  for (const part of parts) {
    const next: string[] = [];
    const nextObjs: unknown[] = [];
    slots.forEach((s, i) => {
      const o = objs[i] as Record<string, unknown> | undefined;
      const arr = part.endsWith('[]');
      const key = arr ? part.slice(0, -2) : part;
      const join = (k: string) => (s ? `${s}.${k}` : k);
      if (key === '<key>' || key === '<val>') {
        const entries = Object.keys(o ?? {});
        for (const k of entries.length ? entries : ['BENIGN_NAME']) {
          next.push(join(`${key}${k}`));
          nextObjs.push(undefined);
        }
        return;
      }
      const child = o?.[key];
      if (arr) {
        const items = Array.isArray(child) ? child : [];
        if (!items.length) {
          next.push(join(`${key}.0`));
          nextObjs.push(undefined);
        }
        items.forEach((it, j) => {
          next.push(join(`${key}.${j}`));
          nextObjs.push(it);
        });
      } else {
        next.push(join(key));
        nextObjs.push(child);
      }
    });
    slots = next;
    objs = nextObjs;
  }
  return slots;
}

/** The error path zod / the rules report for a slot: record entries are reported at their key. */
export const reportedPath = (slot: string) => slot.replace(/\.<(?:key|val)>/, '.');

/** Returns the value previously at slot (undefined when unset) and sets it to v; arrays and objects are created as needed. */
export function setSlot(values: Record<string, unknown>, slot: string, v: string): string | undefined {
  const parts = slot.split('.');
  let cur: Record<string, unknown> = values;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    const nextIsIndex = /^[0-9]+$/.test(parts[i + 1]!);
    if (cur[p] === undefined || typeof cur[p] !== 'object' || cur[p] === null) {
      if (/^<(key|val)>/.test(parts[i + 1]!)) cur[p] = {};
      else if (nextIsIndex) cur[p] = [];
      else cur[p] = {};
    }
    cur = cur[p] as Record<string, unknown>;
    if (Array.isArray(cur) && /^[0-9]+$/.test(parts[i + 1]!) && cur[Number(parts[i + 1])] === undefined && i + 1 < parts.length - 1) {
      // an array item that does not exist yet: a minimal valid host/region to carry the field
      cur[Number(parts[i + 1])] = p === 'hosts' ? { name: 'extra1', address: '10.7.7.7', roles: ['app'] } : p === 'regions' ? { name: 'extra1' } : {};
    }
  }
  const last = parts[parts.length - 1]!;
  const rec = /^<(key|val)>(.*)$/.exec(last);
  if (rec) {
    const entries = Object.entries(cur);
    const k = rec[2]!;
    if (rec[1] === 'key') {
      const old = k in cur ? k : undefined;
      const rebuilt = Object.fromEntries(entries.map(([kk, vv]) => (kk === k ? [v, vv] : [kk, vv])));
      if (!(k in cur)) rebuilt[v] = 'x';
      for (const kk of Object.keys(cur)) delete cur[kk];
      Object.assign(cur, rebuilt);
      return old;
    }
    const old = cur[k] as string | undefined;
    cur[k] = v;
    return old;
  }
  const old = cur[last] as string | undefined;
  cur[last] = v;
  return typeof old === 'string' ? old : undefined;
}
