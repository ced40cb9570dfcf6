/** `ha-gen plan` exit codes, and the runbook/smoke/backup files the plan feeds into the bundle. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { render } from '../../src/render/index.js';
import { PATRONI_HOSTS } from '../helpers/presets.js';
import { specSchema, type SpecInput } from '../../src/spec/schema.js';
import { archiveSettings } from '../../src/targets/backup/index.js';
import { cleanupTempDirs, hashTree, runCli, tempDir } from '../helpers/cli.js';

afterAll(cleanupTempDirs);

describe('ha-gen plan exit codes', () => {
  it('exit 2 naming the key on a bad spec, and on an impossible backup repository; nothing written', async () => {
    const dir = await tempDir('plan-bad');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), 'version: 1\ndatabase: {ha: maybe}\n');
    const before = await hashTree(dir);
    const r = await runCli(['plan'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/database\.ha/);
    await fs.writeFile(path.join(dir, 'b.yaml'), 'version: 1\nbackup: {repository: s3}\n');
    const r2 = await runCli(['plan', '-c', 'b.yaml', '--json'], { cwd: dir });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/backup\.repository/);
    expect(r2.stdout).toBe('');
    expect(Object.keys(await hashTree(dir)).sort()).toEqual([...Object.keys(before), 'b.yaml'].sort());
  });
  it('exit 2 on a missing spec file', async () => {
    const dir = await tempDir('plan-missing');
    const r = await runCli(['plan', '-c', 'nope.yaml'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.yaml/);
  });
});

const CTX = { version: 'test', specFile: 'ha-gen.yaml' };
const files = (v: SpecInput) => render(specSchema.parse(v), CTX).files;

describe('operating files in the bundle', () => {
  it('hosts + patroni: runbook steps with the inventory\'s hosts and units, smoke checks every app host and the lag', () => {
    const f = files({
      version: 1, tier: 'multi-server', platform: 'hosts', database: { ha: 'patroni' }, storage: 'nfs',
      hosts: PATRONI_HOSTS,
    });
    const runbook = f.get('RUNBOOK.md')!.contents;
    for (const step of ['## 1. Detect', '## 2. Assess', '## 3. Notify', '## 4. Fail over', '## 5. Verify', '## 6. Monitor', '## 7. Post-mortem']) expect(runbook).toContain(step);
    expect(runbook).toContain('ssh root@10.0.2.10 "systemd-run --quiet --pipe --wait --collect -p EnvironmentFile=/etc/home-registry/patroni.env patronictl -c /etc/patroni/patroni.yml list"');
    expect(runbook).toContain('/usr/local/sbin/home-registry-restore-pitr');
    expect(runbook).toMatch(/ttl 10 s/);
    const smoke = f.get('smoke.sh')!.contents;
    expect(smoke).toContain("apps=('app1=10.0.1.10' 'app2=10.0.1.11')");
    expect(smoke).toContain("members=('10.0.2.10' '10.0.2.11' '10.0.2.12')");
    expect(smoke).toMatch(/streaming < 2/);
    for (const h of ['db1', 'db2', 'db3']) {
      expect(f.get(`hosts/${h}/etc/pgbackrest/pgbackrest.conf`)!.contents).toContain('pg1-path=/var/lib/postgresql/17/home-registry');
      expect(f.get(`hosts/${h}/etc/systemd/system/home-registry-backup.timer`)!.contents).toContain('OnCalendar=*-*-* 01:30:00 UTC');
      expect(f.get(`hosts/${h}/etc/systemd/system/home-registry-dump.timer`)!.contents).toContain('OnCalendar=*-*-* 02:30:00 UTC');
    }
    const partition = f.get('chaos/partition-app.sh')!.contents;
    expect(partition).toMatch(/iptables -I \$rule/);
    // The app's port is published by Docker: DNAT + FORWARD, never INPUT (issue 15: the old rule cut nothing and reported PASS).
    expect(partition).toMatch(/^rule="DOCKER-USER -p tcp -m conntrack --ctorigdstport 8210 .*-j DROP"$/m);
    expect(partition).not.toMatch(/rule="INPUT/);
  });

  it('hosts with replicas: the restore block runs on the host the operator picks (the primary, whose repository has the backups), never a fixed first host; the streaming promote names its own host', () => {
    for (const ha of ['patroni', 'streaming'] as const) {
      const runbook = files({ version: 1, tier: 'multi-server', platform: 'hosts', database: { ha }, storage: 'nfs', hosts: PATRONI_HOSTS }).get('RUNBOOK.md')!.contents;
      const block = /\*\*Restore from backup[^]*?```bash\n([^]*?)```/.exec(runbook)![1]!.split('\n').filter(Boolean);
      expect(block[0]).toBe('for h in 10.0.2.10 10.0.2.11 10.0.2.12; do echo "== $h"; ssh root@$h "runuser -u postgres -- pgbackrest --stanza=home-registry info"; done');
      expect(block[1]).toMatch(/^db=10\.0\.2\.10 +# the database host to restore on: the primary now .*each host archives into its own \/var\/lib\/pgbackrest/);
      // every ssh of the block after the choice goes to it
      for (const l of block.slice(2).filter((x) => x.startsWith('ssh '))) expect(l).toMatch(/^ssh root@\$db /);
      if (ha === 'streaming') expect(runbook).toContain('# then point DATABASE_URL at 10.0.2.11: change the inventory order (db2 first)');
    }
    // synchronous_mode: the leader ignores a failover candidate that is not the Sync Standby, so the line says to name that one
    for (const synchronous of [true, false]) {
      const rb = files({ version: 1, tier: 'multi-server', platform: 'hosts', database: { ha: 'patroni', synchronous }, storage: 'nfs', hosts: PATRONI_HOSTS }).get('RUNBOOK.md')!.contents;
      const line = rb.split('\n').find((l) => l.includes('failover --candidate db2 --force'))!;
      if (synchronous) expect(line).toContain("name and ssh to the Sync Standby from 'list' if it is not db2 (synchronous_mode promotes no other member)");
      else expect(line).toContain("if db2 is the lost one, name and ssh to a replica from 'list'");
    }
    // one database host: nothing to choose
    const single = files({ version: 1, tier: 'single-server', platform: 'hosts', hosts: [{ name: 'lb1', address: '10.0.1.5', roles: ['lb'] }, { name: 'app1', address: '10.0.1.10', roles: ['app'] }, { name: 'db1', address: '10.0.2.10', roles: ['db'] }] }).get('RUNBOOK.md')!.contents;
    expect(single).toContain('ssh root@10.0.2.10 systemctl stop postgresql@17-main');
    expect(single).not.toMatch(/^db=/m);
  });

  it('compose: override file archives WAL with the generated settings; retention and schedule from the spec', () => {
    const f = files({ version: 1, backup: { retentionFull: 4, retentionDiff: 3, time: '03:15', archiveTimeout: 30 } });
    const override = f.get('docker-compose.backup.yml')!.contents;
    const a = archiveSettings(specSchema.parse({ version: 1, backup: { archiveTimeout: 30 } }));
    expect(a.archive_timeout).toBe('30s');
    expect(override).toContain(`archive_command=${a.archive_command}`);
    expect(override).toContain('archive_timeout=30s');
    const conf = f.get('backup/pgbackrest.conf')!.contents;
    expect(conf).toContain('repo1-retention-full=4');
    expect(conf).toContain('repo1-retention-diff=3');
    expect(f.get('backup/schedule.sh')!.contents).toContain("default_time='03:15'");
    expect(f.get('chaos/kill-app.sh')!.contents).toContain('dc kill "$victim"');
    expect(f.get('loadtest/k6.js')!.contents).toMatch(/http_req_failed: \['rate<0\.01'\]/);
  });
});
