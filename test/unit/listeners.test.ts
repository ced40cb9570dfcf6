/**
 * Every listener of every golden bundle: where it binds (in the files, not only in plan), and that
 * nothing listens publicly that is not the front door, nor on a network address no flow needs.
 */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { render } from '../../src/render/index.js';
import { buildPlan } from '../../src/plan/index.js';
import { PRESETS, presetSpec } from '../helpers/presets.js';

const ctx = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };
/** Listeners no flow of the bundle reaches, on purpose. */
const NOT_REACHED_ON_PURPOSE = [/^reads \(replicas\)$/, /stats \(not published\)/];

describe.each(PRESETS.map((p) => [p.id, p] as const))('%s', (_id, preset) => {
  const spec = presetSpec(preset);
  const plan = buildPlan(spec);
  const bundle = render(spec, ctx);
  const file = (p: string) => bundle.files.get(p)?.contents;

  it('only the front door listens publicly, and every other network listener is reached by a flow', () => {
    const front = new Set([spec.loadBalancer.httpPort, ...(spec.loadBalancer.tls === 'none' ? [] : [spec.loadBalancer.httpsPort])]);
    for (const h of plan.hosts) {
      for (const s of h.services) {
        for (const p of s.ports) {
          const where = `${h.name} ${s.name}:${p.port} (${p.what})`;
          if (p.exposure === 'public') {
            expect(s.kind, where).toBe('lb');
            expect(front.has(p.port), where).toBe(true);
            continue;
          }
          if (p.exposure === 'localhost') {
            expect(p.bind, where).toBe('127.0.0.1');
            continue;
          }
          if (NOT_REACHED_ON_PURPOSE.some((re) => re.test(p.what))) continue;
          const reached = plan.flows.some((f) => f.port === p.port && (f.to === h.name || (f.to === 'floating' && !!plan.floating.find((x) => x.address === f.address)?.holders.includes(h.name))));
          expect(reached, `${where} is on the network but no flow reaches it`).toBe(true);
        }
      }
    }
  });

  it.runIf(spec.platform === 'hosts')('the files bind where plan says', () => {
    const hostsOf = spec.tier === 'multi-region' ? spec.regions.map((r) => `regions/${r.name}/`) : [''];
    for (const h of plan.hosts.filter((x) => !x.external)) {
      const base = hostsOf.map((p) => `${p}hosts/${h.name}`).find((p) => [...bundle.files.keys()].some((f) => f.startsWith(`${p}/`)))!;
      for (const s of h.services) {
        for (const p of s.ports) {
          const where = `${h.name} ${s.name}:${p.port}`;
          if (s.name === 'haproxy-db') expect(file(`${base}/etc/haproxy/haproxy-db.cfg`), where).toContain(`bind ${p.bind}:${p.port}`);
          if (s.name === 'haproxy' && p.what.startsWith('HAProxy stats')) expect(file(`${base}/etc/haproxy/haproxy.cfg`), where).toContain(`bind ${p.bind}:${p.port}`);
          if (s.name === 'patroni') {
            const cfg = parseYaml(file(`${base}/etc/patroni/patroni.yml`)!) as { restapi: { listen: string }; postgresql: { listen: string } };
            expect([cfg.restapi.listen, cfg.postgresql.listen], where).toContain(`${p.bind}:${p.port}`);
          }
          if (s.name === 'etcd') {
            const cfg = parseYaml(file(`${base}/etc/etcd/etcd.conf.yml`)!) as Record<string, string>;
            expect(`${cfg['listen-client-urls']},${cfg['listen-peer-urls']},${cfg['listen-metrics-urls'] ?? ''}`, where).toContain(`//${p.bind}:${p.port}`);
          }
        }
      }
    }
  });
});
