/**
 * Live point-in-time recovery with the generated backup files: a throwaway PostgreSQL (loopback
 * 127.0.0.50) archives WAL through the generated archive settings and pgbackrest.conf; the generated
 * backup script takes a base backup; rows are written before and after a recorded moment; the
 * generated restore script restores to that moment into a new data directory (started on
 * 127.0.0.51), which must hold exactly the rows written before it.
 * Paths differ from a real host only through the spec (repository path, port) and pgBackRest's own
 * documented PGBACKREST_* environment overrides (data directory, socket, log and lock paths).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { render } from '../../src/render/index.js';
import { specSchema, type Spec } from '../../src/spec/schema.js';
import { archiveSettings, hostScripts, PGBACKREST_CONFIG } from '../../src/targets/backup/index.js';
import { pgBinDir, skipUnlessTool } from '../helpers/tools.js';

const tools = skipUnlessTool(['pgbackrest', 'initdb', 'pg_ctl', 'psql', 'runuser'], 'live PITR test');
const isRoot = process.getuid?.() === 0;
if (!tools.skip && !isRoot) console.warn('\n*** live PITR test: runs PostgreSQL as the postgres user and needs root for runuser; SKIPPED ***\n');

const PORT_A = 5450;
const PORT_B = 5451;

describe.skipIf(tools.skip || !isRoot)('live: pgBackRest backup and point-in-time restore from the generated files', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'hagenpitr'));
  const dataA = path.join(base, 'data-a');
  const dataB = path.join(base, 'restored');
  const repo = path.join(base, 'repo');
  const sock = path.join(base, 'sock');
  const bin = pgBinDir()!;
  const started: string[] = [];
  let spec: Spec;
  let env: Record<string, string>;
  let files: Map<string, { contents: string }>;

  const asPostgres = (argv: string[], extra: Record<string, string> = {}, timeout = 60_000): SpawnSyncReturns<string> =>
    spawnSync('runuser', ['-u', 'postgres', '--', 'env', ...Object.entries({ ...env, ...extra }).map(([k, v]) => `${k}=${v}`), ...argv], { encoding: 'utf8', timeout, cwd: base });
  const ok = (r: SpawnSyncReturns<string>, what: string) => {
    if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const sql = (port: number, q: string) => ok(asPostgres([`${bin}/psql`, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', sock, '-p', String(port), '-d', 'postgres', '-c', q]), `psql ${q}`).trim();
  const writeFile = (bundlePath: string, to: string) => {
    const f = files.get(bundlePath);
    if (!f) throw new Error(`the bundle has no ${bundlePath}; it has ${[...files.keys()].filter((k) => k.includes('db1')).join(', ')}`);
    fs.writeFileSync(to, f.contents, { mode: 0o755 });
    return to;
  };

  beforeAll(() => {
    spec = specSchema.parse({
      version: 1,
      name: 'pitr-test',
      tier: 'single-server',
      platform: 'hosts',
      database: { ha: 'none', version: Number(path.basename(path.dirname(bin))), port: PORT_A },
      backup: { repository: 'local', path: repo },
      hosts: [
        { name: 'lb1', address: '127.0.0.52', roles: ['lb'] },
        { name: 'app1', address: '127.0.0.53', roles: ['app'] },
        { name: 'db1', address: '127.0.0.50', roles: ['db'] },
      ],
    });
    files = render(spec, { version: 'test', specFile: 'ha-gen.yaml' }).files;
    for (const d of [repo, sock, path.join(base, 'log'), path.join(base, 'lock')]) fs.mkdirSync(d, { recursive: true });
    writeFile(`hosts/db1${PGBACKREST_CONFIG}`, path.join(base, 'pgbackrest.conf'));
    const scripts = hostScripts(spec);
    writeFile(`hosts/db1${scripts.backup}`, path.join(base, 'backup.sh'));
    writeFile(`hosts/db1${scripts.restore}`, path.join(base, 'restore-pitr.sh'));
    spawnSync('chown', ['-R', 'postgres:postgres', base]);
    fs.chmodSync(base, 0o755);
    env = {
      PATH: `${bin}:/usr/bin:/bin`,
      PGBACKREST_CONFIG: path.join(base, 'pgbackrest.conf'),
      PGBACKREST_PG1_PATH: dataA,
      PGBACKREST_PG1_SOCKET_PATH: sock,
      PGBACKREST_LOG_PATH: path.join(base, 'log'),
      PGBACKREST_LOCK_PATH: path.join(base, 'lock'),
    };
    ok(asPostgres([`${bin}/initdb`, '-D', dataA, '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-instructions']), 'initdb');
    // The archive settings exactly as the bundle generates them for PostgreSQL.
    const a = archiveSettings(spec);
    const conf = [
      `listen_addresses = '127.0.0.50'`,
      `unix_socket_directories = '${sock}'`,
      `archive_mode = ${a.archive_mode}`,
      `archive_command = '${a.archive_command}'`,
      `archive_timeout = '${a.archive_timeout}'`,
      'wal_level = replica',
      'fsync = off',
    ].join('\n');
    fs.appendFileSync(path.join(dataA, 'postgresql.conf'), `\n${conf}\n`);
    ok(asPostgres([`${bin}/pg_ctl`, '-D', dataA, '-l', path.join(base, 'a.log'), '-o', `-p ${PORT_A}`, '-w', '-t', '30', 'start']), 'start cluster A');
    started.push(dataA);
  }, 90_000);

  afterAll(() => {
    for (const d of started.reverse()) spawnSync('runuser', ['-u', 'postgres', '--', `${bin}/pg_ctl`, '-D', d, '-m', 'immediate', '-w', '-t', '20', 'stop'], { encoding: 'utf8', timeout: 30_000 });
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('restores exactly the rows committed before the target time', () => {
    const t0 = Date.now();
    // 1. base backup with the generated script (it creates the stanza on first use)
    const out = ok(asPostgres(['bash', path.join(base, 'backup.sh'), 'full'], { PGHOST: sock, PGPORT: String(PORT_A) }, 90_000), 'backup.sh full');
    expect(out).toMatch(/full backup/);
    // 2. rows before the recorded moment, the moment, rows after it
    sql(PORT_A, 'CREATE TABLE items (id int PRIMARY KEY, phase text NOT NULL)');
    sql(PORT_A, "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 10) g");
    spawnSync('sleep', ['1']);
    const target = sql(PORT_A, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
    spawnSync('sleep', ['1']);
    sql(PORT_A, "INSERT INTO items SELECT g, 'after' FROM generate_series(11, 20) g");
    // 3. the WAL holding both batches reaches the repository
    const seg = sql(PORT_A, 'SELECT pg_walfile_name(pg_switch_wal())');
    const deadline = Date.now() + 30_000;
    while (sql(PORT_A, 'SELECT coalesce(last_archived_wal, \'\') FROM pg_stat_archiver') < seg) {
      if (Date.now() > deadline) throw new Error(`WAL ${seg} was not archived within 30 s: ${sql(PORT_A, 'SELECT failed_count, last_failed_wal FROM pg_stat_archiver')}`);
      spawnSync('sleep', ['0.2']);
    }
    // 4. restore to the moment into a new data directory with the generated script
    const restored = ok(asPostgres(['bash', path.join(base, 'restore-pitr.sh'), target, dataB], {}, 90_000), 'restore-pitr.sh');
    expect(restored).toMatch(/restored to/);
    // the restore script refuses a directory that is not empty
    const again = asPostgres(['bash', path.join(base, 'restore-pitr.sh'), target, dataB]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/not empty/);
    // 5. start the copy and wait for the promotion at the target
    ok(asPostgres([`${bin}/pg_ctl`, '-D', dataB, '-l', path.join(base, 'b.log'), '-o', `-p ${PORT_B} -c listen_addresses=127.0.0.51`, '-w', '-t', '60', 'start']), 'start restored cluster');
    started.push(dataB);
    const promoteBy = Date.now() + 30_000;
    while (sql(PORT_B, 'SELECT pg_is_in_recovery()') !== 'f') {
      if (Date.now() > promoteBy) throw new Error(`restored cluster still in recovery:\n${fs.readFileSync(path.join(base, 'b.log'), 'utf8')}`);
      spawnSync('sleep', ['0.2']);
    }
    expect(sql(PORT_B, "SELECT string_agg(id::text, ',' ORDER BY id) FROM items")).toBe('1,2,3,4,5,6,7,8,9,10');
    expect(sql(PORT_B, "SELECT count(*) FROM items WHERE phase = 'after'")).toBe('0');
    expect(sql(PORT_B, 'SHOW archive_mode')).toBe('off');
    // the original still has every row
    expect(sql(PORT_A, 'SELECT count(*) FROM items')).toBe('20');
    console.log(`live PITR: backup + 20 rows + restore to ${target} + promotion in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 120_000);
});
