/**
 * Live: the monitoring of the multi-server hosts bundle fires (issue 17). The bundle is the one
 * whole-host.test.ts deploys (`ha-gen init --yes --tier multi-server --platform hosts --lb haproxy`,
 * lab addresses), with monitoring values a user sets in ha-gen.yaml: 5 s scrape and evaluation
 * intervals, Alertmanager group_wait 5 s and group_interval 10 s, and monitoring.webhookUrl pointing
 * at a receiver on the lab's client host. Every host starts its units from the bundle's own files
 * (harness/whole-host.ts): the 2 Prometheus and 2 Alertmanager peers on app1/app2, the node exporter
 * on every host, the postgres exporter on the database hosts, the blackbox exporter, HAProxy's
 * metrics listener, Patroni and etcd.
 *
 * Faults, each with the alert that must reach the webhook and its resolution after recovery:
 *  - kill an app instance (the app stand-in on the last app host)   -> AppInstanceDown
 *  - stop the database leader (its Patroni, as chaos/stop-db-leader.sh) -> PatroniFailover, PostgresDown
 *  - fill a disk within its safe bound (a 64 MiB ext4 image mounted on a database host, filled to
 *    90 % as chaos/fill-disk.sh bounds it: never below 10 % free)  -> DiskAlmostFull
 *  - a backup that fails (the bundle's backup script with a stanza pgBackRest does not know) -> BackupFailed
 *  - power off the host of one Prometheus (and Alertmanager peer), then kill an app instance: the
 *    other pair still notifies (AppInstanceDown).
 * Printed: seconds from fault to notification per alert, against scrape interval + for: + 30 s.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';
import { labRequirements } from '../lab/requirements.js';
import { sleep, waitUntil, type HostProcess } from '../lab/lab.js';
import { CLIENT, WholeHostLab, jsonLines, userBundle } from './harness/whole-host.js';
import { startUnitOnHost } from './harness/lab-units.js';

const lab = labRequirements('live monitoring');
const tools = lab.skip
  ? lab
  : skipUnlessTool(['patroni', 'etcd', 'haproxy', 'keepalived', 'psql', 'curl', 'tar', 'prometheus', 'promtool', 'prometheus-alertmanager', 'prometheus-node-exporter', 'prometheus-postgres-exporter', 'prometheus-blackbox-exporter', 'mkfs.ext4', 'losetup'], 'live monitoring');
const SKIP = lab.skip || tools.skip;

const SCRAPE = 5;
const HOOK_PORT = 9099;
const HOOK = `http://${CLIENT.address}:${HOOK_PORT}/hook`;
/** `for:` of each alert the faults raise, as the rules file says (read from it below). */
const fors = new Map<string, number>();

/** The webhook receiver: one JSON line per notification (Alertmanager's webhook body) with its arrival time. */
const RECEIVER = `
import http from 'node:http';
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    try { const j = JSON.parse(body); console.log(JSON.stringify({ t: Date.now(), status: j.status, alerts: j.alerts.map((a) => ({ name: a.labels.alertname, status: a.status, host: a.labels.host ?? '' })) })); } catch { console.log(JSON.stringify({ t: Date.now(), bad: body.slice(0, 200) })); }
    res.end('ok');
  });
}).listen(${HOOK_PORT}, '${CLIENT.address}', () => console.log(JSON.stringify({ listening: true })));
`;

interface Note {
  t: number;
  status: string;
  alerts: Array<{ name: string; status: string; host: string }>;
}

const dur = (s: string) => {
  const m = /^(\d+)(s|m|h)$/.exec(s);
  return m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'] : 0;
};

describe.skipIf(SKIP)('live: monitoring of the multi-server hosts bundle', { timeout: 3_600_000 }, () => {
  let work = '';
  let wh: WholeHostLab;
  let receiver: HostProcess;
  const rows: string[] = [];

  const notes = () => jsonLines<Note>(receiver.log()).filter((n) => Array.isArray(n.alerts));
  /** The first notification after `since` that carries `alert` (on `host` when given) with `status`. */
  const arrival = (alert: string, status: 'firing' | 'resolved', since: number, host?: string) =>
    notes().find((n) => n.t >= since && n.alerts.some((a) => a.name === alert && a.status === status && (!host || a.host === host)));

  async function waitNote(alert: string, status: 'firing' | 'resolved', since: number, timeoutS: number, host?: string): Promise<number> {
    const n = await waitUntil(`${alert} ${status}${host ? ` (${host})` : ''} at the webhook`, () => arrival(alert, status, since, host) ?? null, timeoutS * 1000, 250).catch((e: Error) => {
      console.error(`webhook so far:\n${notes().slice(-15).map((x) => JSON.stringify(x)).join('\n')}`);
      throw e;
    });
    return (n.t - since) / 1000;
  }

  function record(fault: string, alert: string, firingS: number, resolvedS: number | string) {
    const bound = SCRAPE + (fors.get(alert) ?? 0) + 30;
    rows.push(`${fault.padEnd(44)} | ${alert.padEnd(16)} | ${firingS.toFixed(1).padStart(6)} s | ${String(bound).padStart(4)} s | ${typeof resolvedS === 'number' ? `${resolvedS.toFixed(1)} s after recovery` : resolvedS}`);
    console.log(rows.at(-1));
    expect(firingS, `${alert}: within scrape interval + for: + 30 s`).toBeLessThanOrEqual(bound);
  }

  beforeAll(async () => {
    ensureBuilt();
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-monitoring-'));
    await fs.chmod(work, 0o755);
    const bundle = await userBundle(work, 'haproxy', (doc) => {
      doc.setIn(['monitoring', 'scrapeInterval'], SCRAPE);
      doc.setIn(['monitoring', 'evaluationInterval'], SCRAPE);
      doc.setIn(['monitoring', 'groupWait'], 5);
      doc.setIn(['monitoring', 'groupInterval'], 10);
      doc.setIn(['monitoring', 'webhookUrl'], HOOK);
    });
    const rules = await fs.readFile(path.join(bundle.out, 'hosts/app1/etc/prometheus/ha-gen.rules.yml'), 'utf8');
    for (const m of rules.matchAll(/- alert: (\w+)\n\s+expr: .*\n(?:\s+for: (\w+)\n)?/g)) fors.set(m[1]!, m[2] ? dur(m[2]) : 0);
    expect(fors.size, 'alerts in the rules file').toBeGreaterThan(15);
    wh = new WholeHostLab(bundle, work);
    await wh.start();
    await fs.writeFile(path.join(work, 'receiver.mjs'), RECEIVER);
    await wh.lab.writeFile(CLIENT.name, '/usr/local/lib/hglab-receiver.mjs', RECEIVER, { mode: 0o755 });
    receiver = wh.lab.spawn(CLIENT.name, [process.execPath, '/usr/local/lib/hglab-receiver.mjs'], { user: 'nobody', name: 'webhook' });
    await waitUntil('the webhook receiver', () => receiver.log().includes('"listening"'), 10_000, 50);
    const prom = wh.bundle.hosts.filter((h) => h.services.some((s) => s.name === 'prometheus'));
    expect(prom.map((h) => h.name), 'two Prometheus hosts').toHaveLength(2);
    expect(wh.bundle.hosts.filter((h) => h.services.some((s) => s.name === 'prometheus-alertmanager'))).toHaveLength(2);
    // Every scrape target up on both Prometheus (the firewall lets the scrapes in), as each sees it.
    for (const p of prom) {
      await waitUntil(`every target of ${p.name}'s Prometheus up`, async () => {
        const r = await wh.lab.http(p.name, `http://${p.address}:9090/api/v1/targets?state=active`, { timeoutMs: 3000 });
        if (!r.ok || r.status !== 200) return false;
        const t = (JSON.parse(r.body!) as { data: { activeTargets: Array<{ health: string; labels: Record<string, string>; lastError: string }> } }).data.activeTargets;
        const down = t.filter((x) => x.health !== 'up');
        if (down.length) console.log(`  ${p.name}: ${t.length - down.length}/${t.length} up; waiting for ${down.map((x) => `${x.labels.job}@${x.labels.host}: ${x.lastError}`).slice(0, 4).join('; ')}`);
        return t.length > 20 && !down.length;
      }, 240_000, 5000);
    }
    // Patroni's /metrics is scraped over HTTPS, verified against the bundle's CA (tls_config.ca_file).
    for (const p of prom) {
      const r = await wh.lab.http(p.name, `http://${p.address}:9090/api/v1/targets?state=active`, { timeoutMs: 3000 });
      const t = (JSON.parse(r.body!) as { data: { activeTargets: Array<{ health: string; labels: Record<string, string>; scrapeUrl: string }> } }).data.activeTargets.filter((x) => x.labels.job === 'patroni');
      console.log(`  ${p.name}: patroni targets ${t.map((x) => `${x.scrapeUrl} ${x.health}`).join(', ')}`);
      expect(t.length).toBe(wh.dbHosts.length);
      for (const x of t) expect(x).toMatchObject({ health: 'up', scrapeUrl: expect.stringMatching(/^https:\/\//) });
    }
    // The Alertmanager peers formed a cluster.
    const am = prom[0]!;
    const st = await wh.lab.http(am.name, `http://${am.address}:9093/api/v2/status`, { timeoutMs: 3000 });
    const peers = (JSON.parse(st.body!) as { cluster: { peers: unknown[]; status: string } }).cluster;
    console.log(`\nmonitoring lab up: Prometheus on ${prom.map((h) => h.name).join(', ')}; Alertmanager cluster ${peers.status} with ${peers.peers.length} peers; webhook ${HOOK}`);
    expect(peers.peers.length).toBe(2);
    // Let the start-up's own alerts settle (nothing should fire on a healthy bundle).
    await sleep(30_000);
    const early = notes().filter((n) => n.status === 'firing');
    if (early.length) console.log(`  alerts while healthy: ${JSON.stringify(early.flatMap((n) => n.alerts.map((a) => `${a.name}@${a.host}`)))}`);
  }, 900_000);

  afterAll(async () => {
    if (rows.length) console.log(`\nMonitoring faults (scrape/evaluation ${SCRAPE} s, group_wait 5 s; bound = scrape interval + for: + 30 s):\n${['fault'.padEnd(44), 'alert'.padEnd(16), 'to webhook', 'bound', 'resolved'].join(' | ')}\n${rows.join('\n')}\n`);
    await receiver?.stop('SIGTERM', 1000).catch(() => undefined);
    await wh?.close();
    if (work) await fs.rm(work, { recursive: true, force: true });
  }, 120_000);

  const appUnitOf = (host: string) => wh.host(host).services.find((s) => s.kind === 'app')!.name;

  async function killApp(host: string): Promise<number> {
    const unit = appUnitOf(host);
    const p = wh.procs.get(host)!.get(unit)!;
    const at = Date.now();
    await p.stop('SIGKILL', 1000);
    return at;
  }
  async function restartApp(host: string): Promise<number> {
    const unit = appUnitOf(host);
    wh.procs.get(host)!.set(unit, await wh.startAppStandIn(host, unit));
    return Date.now();
  }

  it('kill an app instance: AppInstanceDown reaches the webhook, and is resolved after the restart', async () => {
    const host = wh.appHosts.at(-1)!.name;
    const at = await killApp(host);
    const s = await waitNote('AppInstanceDown', 'firing', at, 180, host);
    const back = await restartApp(host);
    const r = await waitNote('AppInstanceDown', 'resolved', back, 120, host);
    record(`kill the app instance on ${host}`, 'AppInstanceDown', s, r);
  });

  it('stop the database leader: PatroniFailover and PostgresDown reach the webhook; PostgresDown is resolved after its restart', async () => {
    const leader = (await wh.leader())!;
    const p = wh.procs.get(leader)!.get('patroni')!;
    const at = Date.now();
    await p.stop('SIGTERM', 30_000); // systemctl stop patroni: Patroni stops PostgreSQL and gives up the lock
    const f = await waitNote('PatroniFailover', 'firing', at, 180);
    const d = await waitNote('PostgresDown', 'firing', at, 180, leader);
    const s = await startUnitOnHost(wh.lab, leader, 'patroni');
    wh.procs.get(leader)!.set('patroni', s.proc);
    const back = Date.now();
    const r = await waitNote('PostgresDown', 'resolved', back, 180, leader);
    record(`stop Patroni on the leader ${leader}`, 'PatroniFailover', f, 'after 10 min by design (a failover is an event)');
    record(`stop Patroni on the leader ${leader}`, 'PostgresDown', d, r);
  });

  it('fill a disk within its safe bound: DiskAlmostFull reaches the webhook, and is resolved when the file is gone', async () => {
    const host = wh.dbHosts.at(-1)!.name;
    const img = '/var/tmp/hglab-disk.img';
    const mnt = '/var/lib/hglab-disk';
    const sh = async (c: string) => {
      const r = await wh.lab.exec(host, ['sh', '-c', c], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`${host}: ${c}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    await sh(`truncate -s 64M ${img} && mkfs.ext4 -q -F -m 0 ${img} && mkdir -p ${mnt} && mount -o loop ${img} ${mnt}`);
    try {
      // chaos/fill-disk.sh's bound: never less than 10 % of the file system free.
      const [sizeKb, availKb] = (await sh(`df -Pk ${mnt} | awk 'NR==2 {print $2, $4}'`)).trim().split(/\s+/).map(Number) as [number, number];
      const mb = Math.floor((availKb - sizeKb / 10) / 1024);
      const at = Date.now();
      await sh(`fallocate -l ${mb}M ${mnt}/ha-gen-chaos-fill`);
      console.log(`  ${host}: ${(await sh(`df -h ${mnt} | tail -1`)).trim()}`);
      const s = await waitNote('DiskAlmostFull', 'firing', at, 180, host);
      await sh(`rm -f ${mnt}/ha-gen-chaos-fill`);
      const back = Date.now();
      const r = await waitNote('DiskAlmostFull', 'resolved', back, 120, host);
      record(`fill a 64 MiB disk on ${host} to 90 %`, 'DiskAlmostFull', s, r);
    } finally {
      await sh(`umount ${mnt} || umount -l ${mnt}; rm -f ${img}`).catch(() => undefined);
    }
  });

  it('a backup that fails: BackupFailed reaches the webhook, and is resolved by the next successful one (or its failure is reported)', async () => {
    const leader = (await wh.leader())!;
    const unit = await wh.lab.readFile(leader, '/etc/systemd/system/home-registry-backup.service');
    const pre = /^ExecStartPre=\+(.*)$/m.exec(unit)?.[1];
    const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1];
    expect(pre, 'the backup unit creates the textfile folder').toMatch(/install -d -o postgres/);
    await wh.lab.exec(leader, ['sh', '-c', pre!]);
    const at = Date.now();
    const bad = await wh.lab.exec(leader, [exec!], { user: 'postgres', env: { HA_GEN_STANZA: 'no-such-stanza' }, timeoutMs: 120_000 });
    expect(bad.code, 'the broken backup fails').not.toBe(0);
    const s = await waitNote('BackupFailed', 'firing', at, 180);
    const good = await wh.lab.exec(leader, [exec!, 'full'], { user: 'postgres', timeoutMs: 300_000 });
    let resolved: number | string = `not checked: the real backup failed in the lab (exit ${good.code}): ${(good.stderr || good.stdout).trim().split('\n').at(-1)}`;
    if (good.code === 0) resolved = await waitNote('BackupFailed', 'resolved', Date.now(), 120);
    record(`backup.sh on ${leader} with an unknown stanza`, 'BackupFailed', s, resolved);
  });

  it('power off one Prometheus host: alerts still arrive through the other Prometheus and Alertmanager', async () => {
    const prom = wh.bundle.hosts.filter((h) => h.services.some((s) => s.name === 'prometheus')).map((h) => h.name);
    const off = prom[0]!;
    const offAt = Date.now();
    await wh.powerOff(off);
    // The other Prometheus sees the host gone (its targets down, its app instance down).
    const s = await waitNote('AppInstanceDown', 'firing', offAt, 180, off);
    record(`power off ${off} (Prometheus + Alertmanager peer)`, 'AppInstanceDown', s, 'see next row');
    // A fresh fault while it is off: kill the app instance on another app host.
    const other = wh.appHosts.map((h) => h.name).find((n) => !prom.includes(n)) ?? prom[1]!;
    const at = await killApp(other);
    const k = await waitNote('AppInstanceDown', 'firing', at, 180, other);
    const back = await restartApp(other);
    const r = await waitNote('AppInstanceDown', 'resolved', back, 120, other);
    record(`with ${off} off: kill the app instance on ${other}`, 'AppInstanceDown', k, r);
    await wh.powerOnAndStart(off);
    const r2 = await waitNote('AppInstanceDown', 'resolved', Date.now(), 180, off);
    console.log(`  ${off} back: its AppInstanceDown resolved ${r2.toFixed(1)} s after its services started`);
  });

  it('the Alertmanager cluster deduplicates: the event alerts (PatroniFailover, BackupFailed) reached the webhook once, though 2 Prometheus sent each to 2 Alertmanagers', () => {
    // Per alert, the firing notifications of its first episode (before its first resolution): a later
    // episode (a backup failing again, a re-notification after recovery, below) is another event.
    const counts = new Map<string, number>();
    const resolved = new Set<string>();
    for (const n of notes()) {
      for (const a of n.alerts) {
        const key = `${a.name}@${a.host}`;
        if (a.status === 'resolved') resolved.add(key);
        else if (a.status === 'firing' && !resolved.has(key)) counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    // Alerts of a fault that recovers can be notified again right after their resolution: the two
    // Prometheus see the recovery at different scrapes, and Alertmanager keeps the latest report.
    console.log(`firing notifications per alert (first episode): ${JSON.stringify(Object.fromEntries(counts))}`);
    expect(counts.get('PatroniFailover@'), 'PatroniFailover notifications').toBe(1);
    expect(counts.get('BackupFailed@'), 'BackupFailed notifications').toBe(1);
  });
});
