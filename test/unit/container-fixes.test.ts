/**
 * What the container lab (test/containers) found when the compose and Swarm bundles were started for
 * real, pinned here so it stays fixed without a Docker engine:
 * - Swarm: the database tier is reached by task DNS (endpoint_mode dnsrr), not through a VIP (IPVS
 *   drops idle connections after 900 s; without IPVS a VIP does not route at all);
 * - Swarm: start-first updates need room: the app and the db-endpoint spread over nodes as a
 *   preference instead of max_replicas_per_node: 1 (the update could never place its new task);
 * - Patroni's image health check asks /liveness (its loop runs) with a start period, not /health
 *   (PostgreSQL up): Swarm killed members waiting for etcd or cloning, for ever;
 * - compose: the backup service mounts postgresql.conf, so the restored copy starts as restore-pitr.sh says;
 * - compose: rolling-update.sh uses an image already on the host when the pull fails, and smoke.sh
 *   and the chaos scripts fall back to docker-compose (v1) like the deploy scripts.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { render } from '../../src/render/index.js';
import { specSchema, type SpecInput } from '../../src/spec/schema.js';

const CTX = { version: 'test', specFile: 'ha-gen.yaml' };
const files = (v: SpecInput) => render(specSchema.parse(v), CTX).files;
const text = (f: ReturnType<typeof files>, p: string) => {
  const x = f.get(p);
  if (!x) throw new Error(`no ${p} in the bundle`);
  return x.contents;
};

type Service = { image: string; deploy?: { endpoint_mode?: string; placement?: { max_replicas_per_node?: number; preferences?: Array<Record<string, string>>; constraints?: string[] } } };
const services = (f: ReturnType<typeof files>) => (parse(text(f, 'stack.yml')) as { services: Record<string, Service> }).services;

describe('container lab findings', () => {
  it('swarm + patroni: etcd, Patroni members and the db-endpoint use dnsrr; spread instead of max_replicas_per_node', () => {
    const s = services(files({ version: 1, tier: 'multi-server', platform: 'swarm', database: { ha: 'patroni' } }));
    for (const name of ['etcd1', 'etcd2', 'etcd3', 'db1', 'db2', 'db-endpoint']) expect(s[name]?.deploy?.endpoint_mode, name).toBe('dnsrr');
    for (const name of ['app', 'app-green', 'db-endpoint']) {
      expect(s[name]?.deploy?.placement?.max_replicas_per_node, name).toBeUndefined();
      expect(s[name]?.deploy?.placement?.preferences, name).toEqual([{ spread: 'node.id' }]);
    }
    // the app and the LB stay on VIP-free paths: the LB reaches tasks.app, clients the host-mode port
    expect(s.app?.deploy?.endpoint_mode).toBeUndefined();
  });

  it('swarm + streaming: the primary and its standby use dnsrr', () => {
    const s = services(files({ version: 1, tier: 'multi-server', platform: 'swarm', database: { ha: 'streaming' }, storage: 'nfs' }));
    expect(s.db?.deploy?.endpoint_mode).toBe('dnsrr');
    expect(s['db-replica']?.deploy?.endpoint_mode).toBe('dnsrr');
  });

  it('swarm: rolling-update.sh waits for the final update state instead of reading "updating" as a rollback', () => {
    const ru = text(files({ version: 1, tier: 'multi-server', platform: 'swarm', database: { ha: 'patroni' } }), 'deploy/rolling-update.sh');
    expect(ru).toMatch(/case "\$state" in updating\|rollback_started\) sleep 1 ;; \*\) break ;; esac/);
  });

  it("Patroni's image health check is /liveness with a start period", () => {
    const d = text(files({ version: 1, tier: 'multi-server', platform: 'swarm', database: { ha: 'patroni' } }), 'patroni/Dockerfile');
    expect(d).toMatch(/^HEALTHCHECK .*--start-period=\d+s .*--cacert \/etc\/patroni\/pki\/ca\.crt https:\/\/127\.0\.0\.1:8008\/liveness/m);
    expect(d).not.toMatch(/8008\/health\b/);
  });

  it('compose: the backup service mounts the database config restore-pitr.sh tells to start the copy with', () => {
    const f = files({ version: 1, tier: 'single-server', platform: 'compose' });
    const doc = parse(text(f, 'docker-compose.backup.yml')) as { services: { backup: { volumes: string[] } } };
    expect(doc.services.backup.volumes).toContain('./postgres/postgresql.conf:/etc/postgresql/postgresql.conf:ro');
    expect(text(f, 'backup/restore-pitr.sh')).toContain('config_file=/etc/postgresql/postgresql.conf');
  });

  it('compose: rolling-update.sh falls back to the local image; smoke.sh and chaos scripts fall back to docker-compose', () => {
    const f = files({ version: 1, tier: 'single-server', platform: 'compose' });
    const ru = text(f, 'deploy/rolling-update.sh');
    expect(ru).toMatch(/if ! docker pull "\$image"; then\n\s+docker image inspect "\$image"/);
    for (const p of ['smoke.sh', 'chaos/kill-app.sh']) {
      const t = text(f, p);
      expect(t, p).toContain('docker compose version >/dev/null 2>&1');
      expect(t, p).toContain('docker-compose "$@"');
    }
  });
});
