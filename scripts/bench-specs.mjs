#!/usr/bin/env node
// Writes the spec files `npm run bench` times: for each variant, an inventory of N hosts.
//   node scripts/bench-specs.mjs OUTDIR VARIANT N   -> OUTDIR/ha-gen.yaml
//   node scripts/bench-specs.mjs --variants         -> variant names, largest first
// Variants go from the largest deployment (multi-region, Patroni, hosts) to smaller ones the
// renderer already supports; bench.sh uses the first that renders, so it follows the code.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VARIANTS = ['multi-region-patroni', 'multi-server-patroni', 'multi-server-streaming', 'single-server'];

const addr = (i) => `10.${Math.floor(i / 62500) % 250}.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`;

/**
 * Inventory of exactly n hosts: per region a fixed core (load balancers, database, etcd, storage)
 * and app hosts for the rest, the way a real fleet grows. Small inventories stack roles.
 */
function inventory(variant, n) {
  const regions = variant === 'multi-region-patroni' ? ['us-east', 'eu-west'] : [undefined];
  const etcd = variant.endsWith('patroni');
  const dbs = variant === 'single-server' ? 1 : 2;
  const hosts = [];
  regions.forEach((region, r) => {
    const m = Math.floor(n / regions.length) + (r < n % regions.length ? 1 : 0);
    const roleSets = [];
    if (m < 10) {
      for (let i = 0; i < m; i++) {
        const roles = [];
        if (i === 0) roles.push('lb');
        if (variant !== 'single-server' || i < m - 1) roles.push('app');
        if (variant === 'single-server' ? i === m - 1 : i < dbs) roles.push('db');
        if (etcd && i < 3) roles.push('etcd');
        if (i === m - 1) roles.push('storage');
        roleSets.push(roles);
      }
    } else {
      roleSets.push(['lb'], ['lb']);
      for (let d = 0; d < dbs; d++) roleSets.push(['db']);
      if (etcd) roleSets.push(['etcd'], ['etcd'], ['etcd']);
      roleSets.push(['storage']);
      while (roleSets.length < m) roleSets.push(['app']);
    }
    for (const roles of roleSets) {
      const i = hosts.length;
      const prefix = roles.includes('lb') ? 'lb' : roles.includes('db') ? 'db' : roles.includes('etcd') ? 'etcd' : roles.includes('storage') ? 'storage' : 'app';
      hosts.push({ name: `${prefix}-${i + 1}`, address: addr(i), roles, ...(region ? { region } : {}) });
    }
  });
  return hosts;
}

function spec(variant, n) {
  const base = { version: 1, name: 'bench', platform: 'hosts', loadBalancer: { kind: 'haproxy' } };
  switch (variant) {
    case 'multi-region-patroni':
      return { ...base, tier: 'multi-region', database: { ha: 'patroni' }, storage: { kind: 's3' }, regions: [{ name: 'us-east', primary: true }, { name: 'eu-west', primary: false }], hosts: inventory(variant, n) };
    case 'multi-server-patroni':
      return { ...base, tier: 'multi-server', database: { ha: 'patroni' }, storage: { kind: 's3' }, hosts: inventory(variant, n) };
    case 'multi-server-streaming':
      return { ...base, tier: 'multi-server', database: { ha: 'streaming' }, storage: { kind: 's3' }, hosts: inventory(variant, n) };
    case 'single-server':
      return { ...base, tier: 'single-server', database: { ha: 'none' }, storage: { kind: 's3' }, hosts: inventory(variant, n) };
    default:
      throw new Error(`unknown variant ${variant}; one of ${VARIANTS.join(', ')}`);
  }
}

/** Block-style YAML, as a person writes it (values here are plain words: no quoting needed). */
function yaml(v, indent = '') {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? `${indent}- ${yaml(x, `${indent}  `).trimStart()}` : `${indent}- ${x}\n`)).join('');
  return Object.entries(v)
    .map(([k, x]) => (typeof x === 'object' ? `${indent}${k}:\n${yaml(x, `${indent}  `)}` : `${indent}${k}: ${x}\n`))
    .join('');
}

const [outDir, variant, n] = process.argv.slice(2);
if (outDir === '--variants') {
  process.stdout.write(`${VARIANTS.join('\n')}\n`);
} else {
  if (!outDir || !variant || !n) throw new Error('usage: bench-specs.mjs OUTDIR VARIANT N');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'ha-gen.yaml'), yaml(spec(variant, Number(n))));
}
