/**
 * Issue 15 item 5: a re-run of a hosts deploy.sh restarts nothing when nothing changed, and a
 * Patroni member is reloaded (SIGHUP re-reads patroni.yml), never restarted (on the leader a restart
 * is a failover and cuts every session). The bundle's own deploy.sh runs against a simulated host
 * (an `ssh` stand-in that keeps the host's installed tree, secret files and running units in a
 * folder, answers `systemctl is-active` from it and prints what install changed, as the host-side
 * commands do).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, ensureBuilt, runCli, tempDir } from '../helpers/cli.js';

/** The simulated host: $SIM/tree (last installed hosts/HOST), $SIM/files (secrets), $SIM/running/UNIT, $SIM/log (every remote command). */
const FAKE_SSH = `#!/usr/bin/env bash
set -euo pipefail
while (( $# )); do case "$1" in -o|-i|-p|-l) shift 2 ;; -*) shift ;; *) shift; break ;; esac; done
cmd="$*"
printf '%s\\n' "\${cmd//$'\\n'/ }" >> "$SIM/log"
if [[ "$cmd" == *'tar -C "$s" -xf -'* ]]; then
  # install_tree: what the host-side cmp lines print (a new or different file), then the install
  rm -rf "$SIM/new" && mkdir -p "$SIM/new" "$SIM/tree" && tar -C "$SIM/new" -xf -
  (cd "$SIM/new" && find . -type f | sort) | while read -r f; do cmp -s "$SIM/new/$f" "$SIM/tree/$f" || echo "\${f#.}"; done
  rm -rf "$SIM/tree" && mv "$SIM/new" "$SIM/tree"
elif [[ "$cmd" =~ cat\\ \\>\\ \\'([^\\']+)\\.tmp\\' ]]; then
  p="\${BASH_REMATCH[1]}"; mkdir -p "$SIM/files$(dirname "$p")"; cat > "$SIM/files$p.tmp"
  [[ "$cmd" == *"cmp -s '$p.tmp' '$p'"* ]] || { echo "no change check for $p" >&2; exit 1; }
  if cmp -s "$SIM/files$p.tmp" "$SIM/files$p"; then rm -f "$SIM/files$p.tmp"; else mv "$SIM/files$p.tmp" "$SIM/files$p" && echo "$p"; fi
elif [[ "$cmd" =~ ^systemctl\\ is-active\\ ([^\\ ]+)$ ]]; then
  if [[ -e "$SIM/running/\${BASH_REMATCH[1]}" ]]; then echo active; else echo inactive; exit 3; fi
elif [[ "$cmd" =~ systemctl\\ restart\\ ([^\\ ]+) ]]; then
  mkdir -p "$SIM/running" && touch "$SIM/running/\${BASH_REMATCH[1]}"
elif [[ "$cmd" == *"-pgdg main"* ]]; then
  cat >/dev/null
fi
exit 0
`;

let dir = '';
let bundle = '';
let sim = '';
beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('deploy-rerun');
  const init = await runCli(['init', '--yes', '--tier', 'multi-server', '--platform', 'hosts', '--lb', 'haproxy'], { cwd: dir });
  expect(init.code, init.output).toBe(0);
  const gen = await runCli(['generate'], { cwd: dir });
  expect(gen.code, gen.output).toBe(0);
  bundle = path.join(dir, 'ha-bundle');
  await fs.mkdir(path.join(dir, 'bin'));
  await fs.writeFile(path.join(dir, 'bin', 'ssh'), FAKE_SSH, { mode: 0o755 });
  sim = path.join(dir, 'sim');
  await fs.mkdir(sim);
}, 120_000);
afterAll(cleanupTempDirs);

/** One `./deploy.sh HOST` against the simulated host; the remote commands it ran. */
async function deploy(host: string): Promise<{ out: string; remote: string[] }> {
  await fs.rm(path.join(sim, 'log'), { force: true });
  const r = spawnSync('bash', [path.join(bundle, 'deploy.sh'), host], { encoding: 'utf8', env: { PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin`, SIM: sim, LANG: 'C.UTF-8' }, timeout: 60_000 });
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  return { out: r.stdout + r.stderr, remote: (await fs.readFile(path.join(sim, 'log'), 'utf8')).split('\n').filter(Boolean) };
}
const restarts = (remote: string[]) => remote.flatMap((c) => /systemctl restart (\S+)/.exec(c)?.[1] ?? []);
const reloads = (remote: string[]) => remote.flatMap((c) => /^systemctl reload (\S+)$/.exec(c)?.[1] ?? []);

describe('deploy.sh re-run on a Patroni database host', () => {
  it('first run starts every unit; a re-run with nothing changed restarts nothing; a changed patroni.yml reloads Patroni and never restarts it', async () => {
    const first = await deploy('db1');
    const units = restarts(first.remote);
    // the PostgreSQL package creates no default cluster beside the bundle's (set before apt-get install)
    const pkg = first.remote.find((c) => c.includes("missing=''"))!;
    expect(pkg.indexOf("printf 'create_main_cluster = false\\n' > /etc/postgresql-common/createcluster.d/ha-gen.conf")).toBeGreaterThanOrEqual(0);
    expect(pkg.indexOf('create_main_cluster')).toBeLessThan(pkg.indexOf('apt-get install'));
    expect(units).toEqual(expect.arrayContaining(['etcd', 'patroni']));
    expect(first.out).toMatch(/changed on db1:\n( {2}.*\n)* {2}\/etc\/patroni\/patroni\.yml\n/);

    const again = await deploy('db1');
    expect(again.out).toContain('nothing changed on db1: running services are left as they are');
    expect(restarts(again.remote)).toEqual([]);
    expect(reloads(again.remote)).toEqual([]);
    for (const u of units) expect(again.out).toContain(`unchanged: ${u} (running)`);

    // a configuration change: Patroni re-reads patroni.yml on reload and its bootstrap.dcs goes into
    // the DCS (edit-config); no other unit reads patroni.yml, so none restarts
    const yml = path.join(bundle, 'hosts/db1/etc/patroni/patroni.yml');
    await fs.appendFile(yml, '# changed\n');
    const changed = await deploy('db1');
    expect(changed.out).toMatch(/changed on db1:\n {2}\/etc\/patroni\/patroni\.yml\n(?! )/);
    expect(reloads(changed.remote)).toEqual(['patroni']);
    expect(restarts(changed.remote)).toEqual([]);
    const push = changed.remote.filter((c) => /patronictl -c \/etc\/patroni\/patroni\.yml edit-config --replace - --force/.test(c));
    expect(push, changed.out).toHaveLength(1);
    expect(push[0]).toContain('-p EnvironmentFile=/etc/home-registry/patroni.env');
    for (const u of units.filter((x) => x !== 'patroni')) expect(changed.out).toContain(`unchanged: ${u} (running)`);

    // etcd's own file: etcd alone restarts, Patroni is neither reloaded nor pushed
    await fs.appendFile(path.join(bundle, 'hosts/db1/etc/etcd/etcd.conf.yml'), '# changed\n');
    const etcd = await deploy('db1');
    expect(restarts(etcd.remote)).toEqual(['etcd']);
    expect(reloads(etcd.remote)).toEqual([]);
    expect(etcd.remote.some((c) => c.includes('edit-config'))).toBe(false);

    // a script only a timer's service runs: that timer restarts, nothing else
    await fs.appendFile(path.join(bundle, 'hosts/db1/usr/local/sbin/home-registry-backup'), '# changed\n');
    const backup = await deploy('db1');
    expect(restarts(backup.remote)).toEqual(['home-registry-backup.timer']);
  });

  it("the DCS push extracts patroni.yml's bootstrap.dcs as YAML (python3-yaml, as on the host)", () => {
    const text = spawnSync('sed', ['-n', "/^patroni_dcs_script() {/,/^}/p", path.join(bundle, 'deploy.sh')], { encoding: 'utf8' }).stdout;
    const cmd = spawnSync('bash', ['-c', `${text}\npatroni_dcs_script`], { encoding: 'utf8' }).stdout;
    const extract = cmd.slice(0, cmd.indexOf(' | systemd-run')).replace('/etc/patroni/patroni.yml', path.join(bundle, 'hosts/db1/etc/patroni/patroni.yml'));
    const r = spawnSync('sh', ['-c', extract], { encoding: 'utf8' });
    if (r.status !== 0 && /No module named 'yaml'/.test(r.stderr)) {
      if (process.env.HA_GEN_REQUIRE_TOOLS === '1') throw new Error('python3-yaml missing');
      console.warn('deploy-rerun.test: python3-yaml not installed: the DCS extraction is NOT run');
      return;
    }
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ttl: \d+$/m);
    expect(r.stdout).toMatch(/^loop_wait: \d+$/m);
    expect(r.stdout).toMatch(/^postgresql:\n {2}parameters:/m);
    expect(r.stdout).not.toMatch(/^bootstrap:|^dcs:/m);
  });
});
