/**
 * Live: database.ha streaming from the generated hosts bundle, as the units and scripts are.
 * db1 (127.0.0.35) runs its unit (initdb, then postgres) and the role SQL deploy.sh runs; db2
 * (127.0.0.36) clones itself with the generated bootstrap script (its unit's ExecStartPre) and
 * streams. Then: pg_stat_replication says streaming, a row written on db1 is on db2 within 1 s, the
 * bootstrap script is idempotent and refuses to wipe a running server, and after db1 is stopped
 * the promote script makes db2 writable.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';
import { parseUnit, splitExec, unitValue, unitValues, waitFor, type Proc } from './harness/common.js';
import { labSpec, parseEnvFile, prepareHost, psql, runInHost, startUnit, type LabHost } from './harness/db.js';

const tools = skipUnlessTool(['postgres', 'initdb', 'pg_basebackup', 'psql', 'unshare', 'setpriv', 'mount'], 'live streaming replication tests');
const isRoot = process.getuid?.() === 0;
if (!tools.skip && !isRoot) {
  if (process.env.HA_GEN_REQUIRE_TOOLS === '1') throw new Error('live streaming tests need root (unshare -m, mounts)');
  console.warn('\n*** live streaming tests: SKIPPED because they need root (unshare -m and mounts) ***\n');
}

describe.skipIf(tools.skip || !isRoot)('live: streaming replication from the generated files', { timeout: 180_000 }, () => {
  let work = '';
  let env: Record<string, string> = {};
  let db1: LabHost;
  let db2: LabHost;
  const procs: Proc[] = [];
  const unitFile = 'postgresql@15-main.service';
  const app = (address: string) => `host=${address} port=5432 user=app dbname=home_inventory`;
  const envFor = () => ({ REPLICATION_PASSWORD: env.REPLICATION_PASSWORD!, APP_DB_PASSWORD: env.APP_DB_PASSWORD! });

  /** ExecStartPre lines of the unit, run as its User= inside the host's namespace. */
  async function runPre(h: LabHost): Promise<string> {
    const unit = parseUnit(await fs.readFile(path.join(h.root, 'etc/systemd/system', unitFile), 'utf8'));
    let out = '';
    for (const pre of unitValues(unit, 'Service', 'ExecStartPre')) out += await runInHost(h, unitValue(unit, 'Service', 'User') ?? 'root', splitExec(pre).argv, envFor(), 120_000);
    return out;
  }

  beforeAll(async () => {
    ensureBuilt();
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-stream-live-'));
    await fs.chmod(work, 0o755);
    await fs.writeFile(path.join(work, 'ha-gen.yaml'), labSpec({ ha: 'streaming', synchronous: false }));
    const r = await runCli(['generate', '--out', 'bundle', '--force'], { cwd: work });
    expect(r.code, r.output).toBe(0);
    const bundle = path.join(work, 'bundle');
    env = parseEnvFile(await fs.readFile(path.join(bundle, '.env'), 'utf8'));
    db1 = await prepareHost(bundle, path.join(work, 'hosts'), 'db1', 'streaming');
    db2 = await prepareHost(bundle, path.join(work, 'hosts'), 'db2', 'streaming');
    // the primary: its unit, then the SQL deploy.sh runs after it
    await runPre(db1);
    procs.push(startUnit(db1, unitFile, {}, 'postgres'));
    await waitFor('db1 to accept connections', async () => (await runInHost(db1, 'postgres', ['pg_isready', '-h', '/var/run/postgresql']).catch(() => '')).includes('accepting'), 30_000, 200);
    for (const [f, vars] of [['app-role.psql', ['-v', 'app_user=app', '-v', 'app_db=home_inventory']], ['replication-role.psql', []]] as const) {
      await runInHost(db1, 'postgres', ['psql', '-X', '-q', '-h', '/var/run/postgresql', '-v', 'ON_ERROR_STOP=1', ...vars, '-f', `/etc/home-registry/${f}`], envFor());
    }
    // the standby: its unit's ExecStartPre is the bootstrap script
    const out = await runPre(db2);
    expect(out).toMatch(/cloned .* from 127\.0\.0\.35:5432 \(slot db2\)/);
    procs.push(startUnit(db2, unitFile, {}, 'postgres'));
  }, 150_000);

  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop('SIGINT', 15_000);
    if (work) await fs.rm(work, { recursive: true, force: true });
  }, 60_000);

  it('streams: pg_stat_replication on the primary shows the standby streaming into its slot', async () => {
    const row = await waitFor('streaming', async () => {
      const out = await runInHost(db1, 'postgres', ['psql', '-X', '-A', '-t', '-h', '/var/run/postgresql', '-c', "SELECT r.state || ' ' || s.slot_name FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid"]);
      return out.includes('streaming') ? out.trim() : null;
    }, 20_000, 200);
    expect(row).toBe('streaming db2');
    const mon = await runInHost(db1, 'postgres', ['psql', '-X', '-h', '/var/run/postgresql', '-f', '/etc/home-registry/monitor-replication.sql']);
    expect(mon).toMatch(/replay_lag_bytes/);
    expect(mon).toMatch(/replay_lag_seconds/);
    expect(mon).toMatch(/streaming/);
  });

  it('a row written on the primary is readable on the standby within 1 s', async () => {
    const pw = env.APP_DB_PASSWORD!;
    expect((await psql(app('127.0.0.35'), 'CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, note text)', pw)).ok).toBe(true);
    const w = await psql(app('127.0.0.35'), "INSERT INTO items VALUES (42, 'replicated')", pw);
    expect(w.ok, w.out).toBe(true);
    const t0 = Date.now();
    await waitFor('the row on db2', async () => (await psql(app('127.0.0.36'), 'SELECT note FROM items WHERE id = 42', pw)).out === 'replicated', 1000, 20);
    console.log(`streaming: row visible on the standby after ${Date.now() - t0} ms`);
    const ro = await psql(app('127.0.0.36'), "INSERT INTO items VALUES (43, 'x')", pw);
    expect(ro.ok).toBe(false);
    expect(ro.out).toMatch(/read-only transaction/);
  });

  it('the bootstrap script is idempotent and never wipes a running server', async () => {
    const again = await runInHost(db2, 'postgres', ['/usr/local/sbin/home-registry-replica-bootstrap'], envFor());
    expect(again).toMatch(/already holds a cluster: a standby; nothing to clone/);
    await expect(runInHost(db2, 'postgres', ['/usr/local/sbin/home-registry-replica-bootstrap', '--reclone'], envFor())).rejects.toThrow(/refusing to wipe .* a PostgreSQL server is running on it/);
    // nor the primary's, when pointed at it by mistake
    await expect(runInHost(db1, 'postgres', ['/usr/local/sbin/home-registry-replica-bootstrap', '--reclone'], envFor())).rejects.toThrow(/refusing to wipe/);
    expect((await psql(app('127.0.0.36'), 'SELECT count(*) FROM items', env.APP_DB_PASSWORD!)).out).toBe('1');
  });

  it('after the primary is stopped (fenced), the promote script makes the standby writable', async () => {
    await procs[0]!.stop('SIGINT', 15_000);
    const out = await runInHost(db2, 'root', ['/usr/local/sbin/home-registry-promote']);
    expect(out).toMatch(/promoted: this server now accepts writes/);
    const w = await psql(app('127.0.0.36'), "INSERT INTO items VALUES (43, 'after promotion')", env.APP_DB_PASSWORD!);
    expect(w.ok, w.out).toBe(true);
    await expect(runInHost(db2, 'root', ['/usr/local/sbin/home-registry-promote'])).rejects.toThrow(/not a standby/);
  });
});
