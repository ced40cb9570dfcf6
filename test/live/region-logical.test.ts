/**
 * Multi-region: logical replication set up ONLY with the generated files (primary.conf,
 * publication.psql, subscription.psql, lag.sql) between two real PostgreSQL clusters on loopback
 * (127.0.0.60 = primary region, 127.0.0.61 = the other region), run as the postgres user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveSpec } from '../../src/spec/resolve.js';
import { render } from '../../src/render/index.js';
import { pgBinDir, skipUnlessTool } from '../helpers/tools.js';

const tools = skipUnlessTool(['initdb', 'pg_ctl', 'psql', 'openssl', 'runuser'], 'logical replication live test');
const PORT = 5460;
const PRIMARY = '127.0.0.60';
const REPLICA = '127.0.0.61';
const PASSWORD = "s3cr'et\\pw with space"; // quoting is part of what is tested

describe.skipIf(tools.skip)('multi-region logical replication (live, generated SQL only)', () => {
  let dir = '';
  const started: string[] = [];
  let files: Map<string, string>;
  const bin = () => pgBinDir()!;
  const asPg = (cmd: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}) => {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', 'env', ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`), cmd, ...args], { input: opts.input, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const psql = (cluster: string, db: string, sql: string, env: Record<string, string> = {}) =>
    asPg(`${bin()}/psql`, ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', path.join(dir, cluster), '-p', String(PORT), '-U', 'postgres', '-d', db], { input: sql, env });

  beforeAll(async () => {
    const { spec } = resolveSpec([
      {
        source: 'file',
        values: {
          tier: 'multi-region',
          platform: 'swarm',
          database: { ha: 'streaming', port: PORT },
          regions: [
            { name: 'us-east', primary: true, dbAddress: PRIMARY },
            { name: 'eu-west' },
          ],
        },
      },
    ]);
    const bundle = render(spec, { version: 'test', specFile: 'ha-gen.yaml' });
    files = new Map([...bundle.files].map(([p, f]) => [p, f.contents]));

    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ha-gen-region-'));
    fs.chmodSync(dir, 0o755);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-days', '2', '-keyout', path.join(dir, 'server.key'), '-out', path.join(dir, 'server.crt')], { stdio: 'ignore' });
    execFileSync('chown', ['-R', 'postgres:postgres', dir]);
    fs.chmodSync(path.join(dir, 'server.key'), 0o600);
    for (const [name, addr] of [['primary', PRIMARY], ['replica', REPLICA]] as const) {
      const data = path.join(dir, name, 'data');
      asPg('mkdir', ['-p', path.join(dir, name)]);
      asPg(`${bin()}/initdb`, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-instructions']);
      const conf = [`listen_addresses = '${addr}'`, `port = ${PORT}`, `unix_socket_directories = '${path.join(dir, name)}'`, 'fsync = off', `ssl = on`, `ssl_cert_file = '${dir}/server.crt'`, `ssl_key_file = '${dir}/server.key'`];
      if (name === 'primary') {
        // The generated settings for the primary region, included as the README says.
        fs.writeFileSync(path.join(dir, 'primary.conf'), files.get('regions/us-east/logical/primary.conf')!);
        conf.push(`include '${dir}/primary.conf'`);
      }
      fs.appendFileSync(path.join(data, 'postgresql.conf'), `${conf.join('\n')}\n`);
      // pg_hba as regions/README.md says: the logical replication role from the other region only, over TLS.
      fs.writeFileSync(path.join(data, 'pg_hba.conf'), `local all all trust\nhostssl home_inventory logical_replicator ${REPLICA}/32 scram-sha-256\nhostssl home_inventory logical_replicator 127.0.0.1/32 scram-sha-256\nhost all all 0.0.0.0/0 reject\n`);
      asPg(`${bin()}/pg_ctl`, ['-D', data, '-l', path.join(dir, name, 'log'), '-w', '-t', '30', 'start']);
      started.push(data);
      // Schema in both regions (logical replication copies rows, not DDL).
      psql(name, 'postgres', 'CREATE DATABASE home_inventory;');
      psql(name, 'home_inventory', 'CREATE ROLE app LOGIN; CREATE TABLE items (id bigint PRIMARY KEY, name varchar(255) NOT NULL);');
    }
  }, 120_000);

  afterAll(() => {
    for (const data of started.reverse()) {
      try {
        asPg(`${bin()}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch (e) {
        console.warn(`could not stop ${data}: ${(e as Error).message}`);
      }
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a row written in the primary region appears in the other region within seconds', async () => {
    const env = { LOGICAL_REPLICATION_PASSWORD: PASSWORD };
    psql('primary', 'home_inventory', "INSERT INTO items VALUES (1, 'before the subscription');");
    psql('primary', 'home_inventory', files.get('regions/us-east/logical/publication.psql')!, env);
    // running it twice is harmless (idempotent)
    psql('primary', 'home_inventory', files.get('regions/us-east/logical/publication.psql')!, env);
    psql('replica', 'home_inventory', files.get('regions/eu-west/logical/subscription.psql')!, env);
    psql('replica', 'home_inventory', files.get('regions/eu-west/logical/subscription.psql')!, env);
    const t0 = Date.now();
    psql('primary', 'home_inventory', "INSERT INTO items VALUES (2, 'written in us-east');");
    let seen = '';
    while (Date.now() - t0 < 15_000) {
      seen = psql('replica', 'home_inventory', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM items;').trim();
      if (seen === '1,2') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ms = Date.now() - t0;
    console.log(`logical replication: row visible in the other region after ${ms} ms`);
    expect(seen).toBe('1,2');
    expect(ms).toBeLessThan(15_000);

    // The monitoring SQL works on both sides and shows the subscription connected over TLS.
    const sub = psql('replica', 'home_inventory', files.get('regions/eu-west/logical/lag.sql')!);
    expect(sub).toMatch(/^home_registry_sub_eu_west\|\d+\|/m);
    const pub = psql('primary', 'home_inventory', files.get('regions/us-east/logical/lag.sql')!);
    expect(pub).toMatch(/^home_registry_sub_eu_west\|t\|/m);
    const ssl = psql('primary', 'postgres', "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = 'logical_replicator';").trim();
    expect(ssl).toBe('t');
  }, 60_000);
});
