/**
 * The CLI checks spec files with a parser generated from the zod schema at build time
 * (scripts/spec-fast.mjs) and falls back to zod when that parser declines. It must never accept
 * what zod rejects, and must return exactly zod's output (values and key order) when it accepts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSpecParser } from '../../scripts/spec-fast.mjs';
import { specSchema } from '../../src/spec/schema.js';
import { TIER_PRESETS } from '../../src/spec/presets.js';
import { deepMerge } from '../../src/spec/resolve.js';
import { PRESETS } from '../helpers/presets.js';

const code = compileSpecParser(specSchema);
const { parseSpecFast, INVALID } = new Function(`${code}\nreturn { parseSpecFast, INVALID };`)() as { parseSpecFast: (v: unknown) => unknown; INVALID: symbol };

/** Fast result and zod result agree: same output when fast accepts; zod decides when it declines. */
function agree(input: unknown): 'fast' | 'zod-ok' | 'zod-error' {
  const fast = parseSpecFast(structuredClone(input));
  const slow = specSchema.safeParse(structuredClone(input));
  if (fast === INVALID) return slow.success ? 'zod-ok' : 'zod-error';
  expect(slow.success, `fast parser accepted what zod rejects: ${JSON.stringify(input)}`).toBe(true);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
  expect(fast).toEqual(slow.data);
  return 'fast';
}

const inventory = (n: number, region?: string) =>
  Array.from({ length: n }, (_, i) => ({ name: `h${i}`, address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, roles: i % 2 ? ['app'] : ['lb', 'db', 'etcd', 'storage'], ...(region ? { region } : {}) }));

const valid: unknown[] = [
  {},
  { version: 1 },
  ...PRESETS.map((p) => p.values),
  ...Object.values(TIER_PRESETS).map((p) => deepMerge(p as Record<string, unknown>, {})),
  { tier: 'multi-region', platform: 'hosts', storage: 's3', database: { ha: 'patroni', synchronous: true, allowedCidrs: ['10.0.0.0/8'] }, app: { env: { RUST_LOG: 'debug', A_B: 'x=1,y' } }, hosts: inventory(40, 'us-east') },
  { storage: 'nfs', domain: 'registry.example.com', loadBalancer: { tls: 'acme', acmeEmail: 'ops@example.com' } },
];

describe('generated spec parser', () => {
  it('accepts every valid fixture itself, with zod’s exact output', () => {
    for (const v of valid) expect(agree(v), JSON.stringify(v).slice(0, 200)).toBe('fast');
  });

  it('never accepts what zod rejects', () => {
    const bad: unknown[] = [null, [], 'x', { version: 2 }, { nope: 1 }, { app: { port: 0 } }, { app: { port: 1.5 } }, { app: { env: { lower: 'x' } } }, { hosts: [{ name: 'A', address: '1.2.3.4', roles: ['app'] }] }, { hosts: [{ name: 'a', address: '1.2.3.4', roles: [] }] }, { storage: 7 }];
    for (const v of bad) expect(agree(v), JSON.stringify(v)).toBe('zod-error');
  });

  it('leaves unusual objects to zod', () => {
    const odd: unknown[] = [{ domain: undefined }, JSON.parse('{"__proto__": {"x": 1}}'), Object.create({ tier: 'multi-server' }), Object.assign(Object.create(null), { tier: 'single-server' })];
    for (const v of odd) agree(v);
  });

  it('agrees with zod on random edits of valid specs', () => {
    const leaf = fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer({ min: -2, max: 70000 }), fc.double(), fc.constantFrom('', 'nginx', 'patroni', 'hosts', 's3', 'nfs', 'a-b', 'A', '10.0.0.1', '10.0.0.0/8', '/x', '50m', 'x y', '3.0.2', 'us-east'), fc.array(fc.constantFrom('lb', 'app', 'db', 'x'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('kind', 'RUST_LOG', 'x', 'name'), fc.constantFrom('s3', 'info', 1, 'a'), { maxKeys: 2 }));
    const paths = fc.array(fc.constantFrom('version', 'name', 'tier', 'platform', 'domain', 'app', 'storage', 'hosts', 'regions', 'extra', 'kind', 'port', 'env', 'ha', 'replicas', 'loadBalancer', 'database', 'image', 'roles', 'address', '0'), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(fc.constantFrom(...valid), paths, leaf, (base, keys, value) => {
        const v = structuredClone(base) as Record<string, unknown>;
        let cur: Record<string, unknown> = v;
        for (const k of keys.slice(0, -1)) {
          if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
          cur = cur[k] as Record<string, unknown>;
        }
        cur[keys[keys.length - 1]!] = value;
        agree(v);
      }),
      { numRuns: 1500 },
    );
  });
});
