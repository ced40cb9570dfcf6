/**
 * etcd and Patroni's REST API on compose and Swarm (issue 14): TLS with certificates of the bundle's
 * CA (pki/, made at the edge like on hosts), client certificates required by etcd, its users turned on
 * by a one-shot etcd-auth service, every reader of the REST API verifying it; each key readable only by
 * the uid its image runs as (compose: a pki-init copy into per-service volumes; Swarm: secrets with
 * uid/gid/mode). Before this, both platforms ran etcd and the REST API in plain HTTP.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { render } from '../../src/render/index.js';
import type { SpecInput } from '../../src/spec/schema.js';
import { resolveSpec } from '../../src/spec/resolve.js';

const CTX = { version: 'test', specFile: 'ha-gen.yaml' };
// Through the tier presets, as `ha-gen generate` does (multi-region needs its regions).
const build = (v: SpecInput) => render(resolveSpec([{ source: 'file', values: v as Record<string, unknown> }]).spec, CTX);
type B = ReturnType<typeof build>;
const text = (b: B, p: string) => {
  const x = b.files.get(p);
  if (!x) throw new Error(`no ${p} in the bundle`);
  return x.contents;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = Record<string, any>;

const COMPOSE: SpecInput = { version: 1, tier: 'single-server', platform: 'compose', storage: 'local', database: { ha: 'patroni' }, monitoring: { enabled: true } };
const SWARM: SpecInput = { version: 1, tier: 'multi-server', platform: 'swarm', database: { ha: 'patroni' } };
const REGIONS: SpecInput = { version: 1, tier: 'multi-region', platform: 'swarm', database: { ha: 'patroni' } };

describe.each([['compose', COMPOSE], ['swarm', SWARM], ['swarm multi-region', REGIONS]] as const)('%s + Patroni: etcd and the REST API over TLS', (_name, spec) => {
  const b = build(spec);

  it('no plain http:// URL to etcd (2379/2380) or to Patroni (8008) in any file', () => {
    for (const [p, f] of b.files) expect(f.contents, p).not.toMatch(/http:\/\/[^\s'"]+:(2379|2380|8008)\b/);
  });

  it('etcd: https client and peer URLs, client-cert-auth on both, a plain read-only metrics port', () => {
    const files = [...b.files.keys()].filter((p) => /(^|\/)etcd\/etcd\d\.conf\.yml$/.test(p));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const p of files) {
      const c = parse(text(b, p)) as Any;
      for (const k of ['listen-client-urls', 'advertise-client-urls', 'listen-peer-urls', 'initial-advertise-peer-urls']) expect(c[k], `${p} ${k}`).toMatch(/^https:\/\//);
      expect(c['initial-cluster'], p).not.toMatch(/=http:/);
      for (const k of ['client-transport-security', 'peer-transport-security']) expect(c[k], `${p} ${k}`).toEqual({ 'cert-file': '/etc/etcd/pki/host.crt', 'key-file': '/etc/etcd/pki/host.key', 'client-cert-auth': true, 'trusted-ca-file': '/etc/etcd/pki/ca.crt' });
      expect(c['listen-metrics-urls']).toBe('http://0.0.0.0:2381');
    }
  });

  it("Patroni: the etcd section over https with its certificate; the REST API HTTPS, changes need a client certificate", () => {
    const files = [...b.files.keys()].filter((p) => /(^|\/)patroni\/db\d\.yml$/.test(p));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const p of files) {
      const c = parse(text(b, p)) as Any;
      const dcs = c.etcd ?? c.etcd3;
      expect(dcs, p).toMatchObject({ protocol: 'https', cacert: '/etc/patroni/pki/ca.crt', cert: '/etc/patroni/pki/host.crt', key: '/etc/patroni/pki/host.key' });
      expect(c.restapi, p).toMatchObject({ certfile: '/etc/patroni/pki/host.crt', keyfile: '/etc/patroni/pki/host.key', cafile: '/etc/patroni/pki/ca.crt', verify_client: 'optional' });
    }
  });

  it('the endpoint checks verify the REST API (check-ssl verify required, verifyhost); Prometheus scrapes it over https with the CA', () => {
    for (const p of [...b.files.keys()].filter((x) => x.endsWith('db-endpoint/haproxy-db.cfg'))) {
      const ep = text(b, p);
      expect(ep.match(/default-server .* check-ssl verify required ca-file \/etc\/haproxy\/pki\/ca\.crt$/gm), p).toHaveLength(2);
      expect(ep).toMatch(/server db1 db1:5432 check port 8008 verifyhost db1$/m);
    }
    for (const p of [...b.files.keys()].filter((x) => x.endsWith('monitoring/prometheus.yml'))) {
      const jobs = (parse(text(b, p)) as { scrape_configs: Any[] }).scrape_configs;
      expect(jobs.find((j) => j.job_name === 'patroni'), p).toMatchObject({ scheme: 'https', tls_config: { ca_file: '/etc/prometheus/pki/ca.crt' } });
      expect(JSON.stringify(jobs.find((j) => j.job_name === 'etcd'))).toMatch(/2381/);
    }
  });

  it('a certificate per etcd member, Patroni member and the etcd-auth step, named for the service names the others dial', () => {
    const names = b.certs.map((c) => c.name.replace(/^[a-z0-9-]+\./, ''));
    for (const n of ['etcd1', 'etcd2', 'etcd3', 'db1', 'db2', 'etcd-auth']) expect(names).toContain(n);
    const swarm = spec.platform === 'swarm';
    for (const c of b.certs) {
      const svc = c.name.replace(/^[a-z0-9-]+\./, '');
      expect(c.sans).toEqual([`DNS:${svc}`, ...(swarm ? [`DNS:tasks.${svc}`] : []), 'DNS:localhost', 'IP:127.0.0.1']);
      expect(['root', 'patroni']).not.toContain(c.cn);
    }
    expect(text(b, '.gitignore')).toMatch(/^pki\/$/m);
  });
});

describe('compose: each key reaches its service owned by the uid it runs as', () => {
  const b = build(COMPOSE);
  const dc = parse(text(b, 'docker-compose.yml')) as { services: Record<string, Any>; volumes: Record<string, unknown> };
  const s = dc.services;

  it('only pki-init reads pki/ (read-only, no network, as root); every other service mounts its own volume read-only after it', () => {
    for (const [name, svc] of Object.entries(s)) {
      const vols = (svc.volumes ?? []) as string[];
      if (name === 'pki-init') continue;
      expect(vols.filter((v) => v.startsWith('./pki')), name).toEqual([]);
    }
    expect(s['pki-init']).toMatchObject({ user: '0:0', network_mode: 'none', restart: 'no' });
    expect(s['pki-init']!.volumes).toContain('./pki:/pki:ro');
    const users: Record<string, string> = { etcd1: '/etc/etcd/pki', db1: '/etc/patroni/pki', 'db-endpoint': '/etc/haproxy/pki', prometheus: '/etc/prometheus/pki', 'etcd-auth': '/etc/etcd-auth/pki' };
    for (const [svc, dir] of Object.entries(users)) {
      expect(s[svc]!.volumes, svc).toContain(`pki-${svc}:${dir}:ro`);
      expect(s[svc]!.depends_on['pki-init'], svc).toEqual({ condition: 'service_completed_successfully' });
      expect(dc.volumes[`pki-${svc}`], svc).toBeDefined();
    }
  });

  it('pki-install.sh: keys 0400 for the image user (etcd root, Patroni and etcd-auth postgres 999), the CA alone for the endpoint and Prometheus', () => {
    const sh = text(b, 'docker/pki-install.sh');
    expect(sh).toMatch(/^put etcd1\.key etcd1 host\.key 0 0400$/m);
    expect(sh).toMatch(/^put db1\.key db1 host\.key 999 0400$/m);
    expect(sh).toMatch(/^put etcd-auth\.key etcd-auth host\.key 999 0400$/m);
    expect(sh).toMatch(/^put ca\.crt db-endpoint ca\.crt 0 0444$/m);
    expect(sh).toMatch(/^put ca\.crt prometheus ca\.crt 0 0444$/m);
    expect(sh.match(/^put \S+\.key /gm)).toHaveLength(6);
    expect(sh).not.toMatch(/^put \S+ (db-endpoint|prometheus) host\.key/m);
  });

  it('etcd-auth: a one-shot started again until a majority runs; its passwords come from .env, not the command line', () => {
    expect(s['etcd-auth']).toMatchObject({ restart: 'on-failure', entrypoint: ['/bin/sh', '/usr/local/lib/ha-gen/etcd-auth.sh'], environment: { ETCD_ROOT_PASSWORD: expect.stringMatching(/^\$\{ETCD_ROOT_PASSWORD:\?/), PATRONI_ETCD_PASSWORD: expect.stringMatching(/^\$\{PATRONI_ETCD_PASSWORD:\?/) } });
    const sh = text(b, 'etcd/etcd-auth.sh');
    expect(sh).toContain("endpoint='https://etcd1:2379'");
    expect(sh).toMatch(/exit 1\n/);
    expect(s.db1!.environment).toMatchObject({ PATRONI_ETCD_USERNAME: expect.stringContaining('PATRONI_ETCD_USERNAME'), PATRONI_ETCD_PASSWORD: expect.stringContaining('PATRONI_ETCD_PASSWORD'), PATRONI_ETCD_PROTOCOL: 'https' });
  });
});

describe('swarm: keys as Swarm secrets with the uid, gid and mode of their service', () => {
  const b = build(SWARM);
  const st = parse(text(b, 'stack.yml')) as { services: Record<string, Any>; secrets: Record<string, Any> };
  const mounts = (svc: string) => (st.services[svc]!.secrets as Any[]).filter((m) => String(m.source).startsWith('pki_'));

  it('keys 0400 owned by the image user, certificates 0444; read from pki/ at deploy time', () => {
    const uid: Record<string, string> = { etcd1: '0', etcd2: '0', etcd3: '0', db1: '999', db2: '999', 'etcd-auth': '999' };
    for (const [svc, u] of Object.entries(uid)) {
      const m = mounts(svc);
      expect(m.map((x) => x.target).sort(), svc).toHaveLength(3);
      const key = m.find((x) => String(x.target).endsWith('/host.key'))!;
      expect(key, svc).toMatchObject({ uid: u, gid: u, mode: 0o400 });
      for (const x of m.filter((y) => y !== key)) expect(x.mode, svc).toBe(0o444);
    }
    expect(mounts('db-endpoint')).toEqual([{ source: 'pki_ca_crt', target: '/etc/haproxy/pki/ca.crt', uid: '0', gid: '0', mode: 0o444 }]);
    for (const [k, v] of Object.entries(st.secrets).filter(([k]) => k.startsWith('pki_'))) {
      expect(v.file, k).toMatch(/^\.\/pki\/[a-z0-9.-]+\.(crt|key)$/);
      expect(v.external, k).toBeUndefined();
    }
    expect(Object.keys(st.secrets)).not.toContain('pki_ca_key');
  });

  it('etcd-auth is a job on the db network; Patroni gets its etcd user and the https protocol', () => {
    expect(st.services['etcd-auth']!.deploy).toEqual({ mode: 'replicated-job', restart_policy: { condition: 'on-failure', delay: '5s' } });
    expect(st.services['etcd-auth']!.networks).toEqual(['db']);
    expect(st.services.db1!.environment).toMatchObject({ PATRONI_ETCD_USERNAME: expect.stringContaining('PATRONI_ETCD_USERNAME'), PATRONI_ETCD_PROTOCOL: 'https' });
    expect(st.services.db1!.secrets).toContainEqual({ source: 'patroni_etcd_password', target: 'PATRONI_ETCD_PASSWORD' });
  });

  it('multi-region: each region reads the bundle root pki/ with its own certificate names', () => {
    const r = build(REGIONS);
    const stacks = [...r.files.keys()].filter((p) => /^regions\/[^/]+\/stack\.yml$/.test(p));
    expect(stacks.length).toBe(2);
    for (const p of stacks) {
      const region = p.split('/')[1]!;
      const sec = (parse(text(r, p)) as { secrets: Record<string, Any> }).secrets;
      expect(sec[`pki_${region.replace(/[^A-Za-z0-9]+/g, '_')}_db1_key`]?.file, p).toBe(`../../pki/${region}.db1.key`);
    }
  });
});
