import type { Bundle } from '../../src/render/bundle.js';
import { formatOf, skeleton } from './structure.js';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Replaces the value where it stands as a whole token of a name or path (host folder, file name, YAML key). */
export function namer(value: string | undefined): (k: string) => string {
  if (!value) return (k) => k;
  // systemd unit names escape '-' (a mount unit for /srv/shop-front is srv-shop_front...)
  const forms = [...new Set([value, value.replace(/-/g, '_'), value.replace(/-/g, '\\x2d')])];
  const res = forms.map((f) => new RegExp(`(^|[/.@_-])${esc(f)}(?=$|[/.@_-])`, 'g'));
  return (k) => (k === value ? '§' : res.reduce((acc, re) => acc.replace(re, '$1§'), k));
}

/**
 * Differences between the skeletons of two bundles: the baseline rendered with value v0 and the
 * candidate rendered with v. Empty when v changed data only.
 */
export function structuralDiff(base: Bundle, v0: string | undefined, cand: Bundle, v: string): string[] {
  // The same renaming on both sides, so a token that merely looks like the value (a host named
  // "data" and a volume "app1-data") is renamed in the baseline too.
  const a = namer(v0);
  const c = namer(v);
  // Swarm config names carry a content hash (configs are immutable): the hash follows the data.
  const n0 = (k: string) => a(c(k)).replace(/(^|[_.-])[0-9a-f]{8,64}(?=$|[_.-])/g, '$1#hash');
  const n1 = n0;
  const baseFiles = new Map([...base.files].map(([p, f]) => [n0(p), { p, f }]));
  const candFiles = new Map([...cand.files].map(([p, f]) => [n1(p), { p, f }]));
  const problems: string[] = [];
  for (const k of baseFiles.keys()) if (!candFiles.has(k)) problems.push(`file ${k} is missing`);
  for (const [k, { p, f }] of candFiles) {
    const b = baseFiles.get(k);
    if (!b) {
      problems.push(`file ${p} is new`);
      continue;
    }
    if (b.f.contents === f.contents) continue;
    const fmt = formatOf(p, f);
    const s0 = skeleton(fmt, b.f.contents, n0);
    const s1 = skeleton(fmt, f.contents, n1);
    if (s0 !== s1) {
      const a = s0.split('\n');
      const c = s1.split('\n');
      const i = a.findIndex((x, j) => x !== c[j]);
      problems.push(`${p} (${fmt}): structure changed near skeleton line ${i}: ${JSON.stringify(a[i])} -> ${JSON.stringify(c[i])}`);
    }
  }
  return problems;
}
