/**
 * Every base spec of the property suite (support.ts BASES) resolves and renders. The injection and
 * security suites build on these bases, so a renderer that throws for one of them must fail here,
 * by name, and not quietly shrink what those suites cover.
 */
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../src/spec/resolve.js';
import { DB_HA, LB_KINDS, PLATFORMS, STORAGE_KINDS, TIERS, TLS_MODES } from '../../src/spec/schema.js';
import { BASES, renderBases, renderValues } from './support.js';

describe('base specs', () => {
  it.each(BASES.map((b) => [b.id, b] as const))('%s resolves and renders', (_id, b) => {
    const bundle = renderValues(b.values);
    expect(bundle.files.size).toBeGreaterThan(3);
    expect(bundle.files.has('.ha-gen/manifest.json')).toBe(true);
  });

  it('renderBases() returns every base (none dropped)', () => {
    expect(renderBases().map((b) => b.id)).toEqual(BASES.map((b) => b.id));
  });

  it('the bases cover every tier, platform, load balancer, TLS mode, database mode and storage kind', () => {
    const specs = BASES.map((b) => resolveSpec([{ source: 'file', values: structuredClone(b.values) }]).spec);
    const seen = (pick: (s: (typeof specs)[number]) => string) => [...new Set(specs.map(pick))].sort();
    expect(seen((s) => s.tier)).toEqual([...TIERS].sort());
    expect(seen((s) => s.platform)).toEqual([...PLATFORMS].sort());
    expect(seen((s) => s.loadBalancer.kind)).toEqual([...LB_KINDS].sort());
    expect(seen((s) => s.loadBalancer.tls)).toEqual([...TLS_MODES].sort());
    expect(seen((s) => s.database.ha)).toEqual([...DB_HA].sort());
    // local storage is single-server only; the bases use the defaults there
    expect(seen((s) => s.storage.kind)).toEqual([...STORAGE_KINDS].sort());
  });
});
