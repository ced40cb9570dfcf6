/**
 * Settings the whole-host lab (test/live/whole-host.test.ts) showed were needed for the loss of a
 * whole server, checked here on every render so a later edit cannot quietly undo them.
 */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { render } from '../../src/render/index.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import { PATRONI_HOSTS } from '../helpers/presets.js';

const ctx = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };
function bundle(values: Record<string, unknown>) {
  const { spec } = resolveSpec([{ source: 'file', values: { tier: 'multi-server', storage: 'nfs', ...values } }]);
  return render(spec, ctx);
}
const text = (b: ReturnType<typeof render>, p: string) => {
  const f = b.files.get(p);
  if (!f) throw new Error(`${p} not rendered; have: ${[...b.files.keys()].join(', ')}`);
  return f.contents;
};
const seconds = (v: string) => {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m)?$/.exec(v);
  if (!m) throw new Error(`not a HAProxy time: ${v}`);
  return Number(m[1]) * { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[(m[2] ?? 'ms') as 'us' | 'ms' | 's' | 'm'];
};

describe('whole-host losses: generator settings the lab proved necessary', () => {
  it('etcd runs with pre-vote: a member back from a partition does not depose the leader (Patroni would demote its primary)', () => {
    for (const platform of ['hosts', 'swarm'] as const) {
      const b = bundle({ platform, hosts: platform === 'hosts' ? PATRONI_HOSTS : [], database: { ha: 'patroni' } });
      const confs = [...b.files.keys()].filter((p) => /etcd[^/]*\/[^/]*\.conf\.yml$|etc\/etcd\/etcd\.conf\.yml$/.test(p));
      expect(confs.length, platform).toBeGreaterThanOrEqual(3);
      for (const p of confs) expect(parseYaml(text(b, p)), p).toMatchObject({ 'pre-vote': true });
    }
  });

  it("HAProxy (the app's front door) gives up on a silent app host within 250 ms and redispatches the request", () => {
    const b = bundle({ platform: 'hosts', hosts: PATRONI_HOSTS, loadBalancer: { kind: 'haproxy' }, database: { ha: 'patroni' } });
    const lbs = [...b.files.keys()].filter((p) => p.endsWith('/etc/haproxy/haproxy.cfg'));
    expect(lbs.length).toBeGreaterThan(0);
    for (const p of lbs) {
      const cfg = text(b, p);
      const connect = /^\s*timeout connect (\S+)$/m.exec(cfg)?.[1];
      expect(connect, p).toBeDefined();
      expect(seconds(connect!), `${p}: timeout connect`).toBeLessThanOrEqual(0.25);
      expect(cfg, p).toMatch(/^\s*option redispatch\b/m);
      expect(cfg, p).toMatch(/^\s*retry-on .*\bconn-failure\b/m);
      expect(Number(/^\s*retries (\d+)$/m.exec(cfg)?.[1] ?? 0), p).toBeGreaterThanOrEqual(1);
    }
  });
});
