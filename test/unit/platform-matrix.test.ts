/**
 * Every tier x platform x storage generates, and every file of it passes `ha-gen validate` with the
 * real tools (HA_GEN_REQUIRE_TOOLS=1 in CI). The load balancer rotates over the combinations so that
 * each kind is covered. Nothing is skipped: a combination either generates and validates, or is
 * refused on purpose (exit 2 with the rule's message); anything else fails the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { cleanupTempDirs, ensureBuilt, runCli, tempDir } from '../helpers/cli.js';
import { REQUIRE_TOOLS } from '../helpers/tools.js';

const LBS = ['nginx', 'haproxy', 'caddy'] as const;
const STORAGE = ['local', 'nfs', 's3', 'glusterfs'] as const;

function inventory(tier: string): object[] {
  const regions = tier === 'multi-region' ? ['us-east', 'eu-west'] : [undefined];
  const hosts: object[] = [];
  regions.forEach((region, r) => {
    const n = (i: number) => `10.${r}.${i}`;
    const suffix = region ? `-${region.split('-')[0]}` : '';
    const db = tier === 'single-server' ? 1 : 2;
    const add = (name: string, address: string, roles: string[]) => hosts.push({ name: `${name}${suffix}`, address, roles, ...(region ? { region } : {}) });
    add('lb1', `${n(1)}.5`, ['lb']);
    add('app1', `${n(1)}.10`, ['app']);
    add('app2', `${n(1)}.11`, ['app']);
    for (let i = 1; i <= db; i++) add(`db${i}`, `${n(2)}.${9 + i}`, ['db']);
    add('st1', `${n(3)}.10`, ['storage']);
    add('st2', `${n(3)}.11`, ['storage']);
    add('st3', `${n(3)}.12`, ['storage']);
  });
  return hosts;
}

interface Combo {
  tier: string;
  platform: string;
  storage: string;
  lb: string;
  /** The rules refuse it, on purpose (e.g. storage local across servers). */
  refused?: RegExp;
}

const combos: Combo[] = [];
let k = 0;
for (const tier of ['single-server', 'multi-server', 'multi-region']) {
  for (const platform of ['compose', 'swarm', 'hosts']) {
    if (tier !== 'single-server' && platform === 'compose') continue; // refused by the rules (tested in resolve tests)
    for (const storage of STORAGE) {
      const lb = LBS[k++ % LBS.length]!;
      const refused = storage === 'local' && (tier !== 'single-server' || platform === 'hosts') ? /"local" keeps uploads on one server/ : undefined;
      combos.push({ tier, platform, storage, lb, ...(refused ? { refused } : {}) });
    }
  }
}

describe('every tier x platform x storage generates and validates', () => {
  beforeAll(() => ensureBuilt());
  afterAll(() => cleanupTempDirs());

  // One at a time: each validate already runs its checks in parallel, and the 2-core CI machine
  // timed out tools (docker-compose, initdb) when bundles were validated concurrently.
  it.each(combos)('$tier / $platform / $storage / $lb', async (c) => {
    const dir = await tempDir(`matrix-${c.tier}-${c.platform}-${c.storage}`);
    // The throwaway PostgreSQL of the checks runs as the postgres user, which must be able to enter the cwd.
    await fs.chmod(dir, 0o755);
    const spec: Record<string, unknown> = {
      version: 1,
      tier: c.tier,
      platform: c.platform,
      loadBalancer: { kind: c.lb },
      storage: { kind: c.storage },
      database: { ha: c.tier === 'single-server' ? 'none' : 'streaming' },
    };
    if (c.platform === 'hosts') spec.hosts = inventory(c.tier);
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), stringify(spec));
    const gen = await runCli(['generate', '--out', 'b'], { cwd: dir, timeoutMs: 60_000 });
    if (c.refused) {
      expect(gen.code, gen.output).toBe(2);
      expect(gen.output).toMatch(c.refused);
      return;
    }
    expect(gen.code, gen.output).toBe(0);
    const v = await runCli(['validate', 'b', '--json'], { cwd: dir, timeoutMs: 300_000, env: { HA_GEN_REQUIRE_TOOLS: REQUIRE_TOOLS ? '1' : undefined } });
    const report = JSON.parse(v.stdout) as { passed: number; failed: number; results: Array<{ file: string; tool: string; status: string; message: string }> };
    const failed = report.results.filter((r) => r.status === 'failed').map((r) => `${r.file} (${r.tool}): ${r.message}`);
    expect(failed, failed.join('\n')).toEqual([]);
    expect(v.code, v.stderr).toBe(0);
    // a check whose tool is absent is skipped by validate (a failure under HA_GEN_REQUIRE_TOOLS=1): say so
    const skipped = report.results.filter((r) => r.status === 'skipped').map((r) => `${r.file} (${r.tool})`);
    if (skipped.length) console.warn(`\n*** ${c.tier}/${c.platform}/${c.storage}: ${skipped.length} check(s) SKIPPED because their tool is not installed (HA_GEN_REQUIRE_TOOLS=1 makes this a failure):\n  ${skipped.join('\n  ')} ***\n`);
    expect(report.passed).toBeGreaterThan(10);
    // what this issue adds is there
    const files = new Set(report.results.map((r) => r.file));
    const prefix = c.tier === 'multi-region' ? 'regions/us-east/' : '';
    expect(files.has(`${prefix}deploy/rolling-update.sh`)).toBe(true);
    expect(files.has(`${prefix}deploy/blue-green.sh`)).toBe(true);
    if (c.platform === 'swarm') expect(report.results.some((r) => r.file === `${prefix}stack.yml` && r.tool === 'stack' && r.status === 'passed')).toBe(true);
    if (c.platform === 'compose') expect(report.results.some((r) => r.file === 'docker-compose.yml' && r.tool === 'compose' && r.status === 'passed')).toBe(true);
    if (c.tier === 'multi-region') {
      expect(files.has('global/route53.tf.json') && files.has('global/cloudflare.tf.json')).toBe(true);
      expect(files.has('regions/us-east/logical/publication.psql')).toBe(true);
    }
  }, 600_000);
});
