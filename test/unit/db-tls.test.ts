/**
 * database.tls: every client of PostgreSQL verifies the server (sslmode=verify-full with the CA):
 * the app's DATABASE_URL (the CA mounted into its container), Patroni's member-to-member
 * connections, a standby's clone and primary_conninfo; the README names the subjectAltNames the
 * server certificate needs, including the endpoint addresses the app dials.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { render } from '../../src/render/index.js';
import { resolveSpec } from '../../src/spec/resolve.js';

const CTX = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };
const CA = '/etc/ssl/certs/my-db-ca.crt';
const hosts = [
  { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
  { name: 'app1', address: '10.0.1.10', roles: ['app'] },
  { name: 'app2', address: '10.0.1.11', roles: ['app'] },
  { name: 'db1', address: '10.0.2.10', roles: ['db', 'etcd'] },
  { name: 'db2', address: '10.0.2.11', roles: ['db', 'etcd'] },
  { name: 'db3', address: '10.0.2.12', roles: ['db', 'etcd'] },
  { name: 'st1', address: '10.0.3.10', roles: ['storage'] },
];
const bundle = (ha: string, tls: boolean) =>
  render(resolveSpec([{ source: 'file', values: { version: 1, tier: 'multi-server', platform: 'hosts', loadBalancer: { kind: 'haproxy' }, storage: 'nfs', database: { ha, tls, caFile: CA }, hosts } }]).spec, CTX).files;
const text = (files: Map<string, { contents: string }>, p: string) => {
  const f = files.get(p);
  expect(f, p).toBeDefined();
  return f!.contents;
};

describe.each(['patroni', 'streaming'])('database.tls with %s', (ha) => {
  const files = bundle(ha, true);
  const deploy = text(files, 'deploy.sh');

  it("the app's DATABASE_URL verifies the server with the CA, and its container gets the CA", () => {
    const urls = [...deploy.matchAll(/DATABASE_URL "([^"]+)"/g)].map((m) => m[1]!);
    expect(urls).toHaveLength(2);
    for (const u of urls) expect(u).toMatch(new RegExp(`\\?sslmode=verify-full&sslrootcert=${CA}$`));
    for (const app of ['app1', 'app2']) {
      const unit = text(files, `hosts/${app}/etc/systemd/system/home-registry-app.service`);
      expect(unit).toContain(`--mount type=bind,src=${CA},dst=${CA},readonly`);
    }
  });

  it('replication verifies the server too', () => {
    if (ha === 'patroni') {
      const auth = (parse(text(files, 'hosts/db1/etc/patroni/patroni.yml')) as { postgresql: { authentication: Record<string, { sslmode: string; sslrootcert: string }> } }).postgresql.authentication;
      for (const k of ['superuser', 'replication', 'rewind']) expect(auth[k], k).toMatchObject({ sslmode: 'verify-full', sslrootcert: CA });
    } else {
      const boot = text(files, 'hosts/db2/usr/local/sbin/home-registry-replica-bootstrap');
      expect(boot).toContain(`-d 'sslmode=verify-full sslrootcert=${CA}'`);
    }
  });

  it('the README names the subjectAltNames: every database host and every address the app dials', () => {
    const readme = text(files, 'README.md');
    const dialled = [...deploy.matchAll(/DATABASE_URL "postgres:\/\/[^@]+@([^:]+):/g)].map((m) => m[1]!);
    expect(dialled.length).toBeGreaterThan(0);
    for (const a of ['10.0.2.10', '10.0.2.11', '10.0.2.12', ...dialled]) expect(readme).toContain(`IP:${a}`);
  });
});

it('without database.tls nothing asks for verify-full', () => {
  const files = bundle('patroni', false);
  for (const [p, f] of files) expect(f.contents, p).not.toContain('verify-full');
});
