import { z } from 'zod';
import { SpecError, type Issue } from '../errors.js';
import { TIER_PRESETS } from './presets.js';
import { specSchema, TIERS, SPEC_VERSION, type Spec } from './schema.js';
import { checkRules, hostsWith } from './rules.js';

export { checkRules, hostsWith } from './rules.js';

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

