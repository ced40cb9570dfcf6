/**
 * Issue 15 item 4: where deploy.sh adds apt.postgresql.org (which carries the newest Patroni, 4.x),
 * the database hosts must still run database.patroniVersion, the version the bundle's DCS settings
 * and RUNBOOK are chosen for, also after a later `apt upgrade`. deploy.sh's host-side package step
 * (taken from the generated file) runs here against a stand-in apt/dpkg that honours the pin it
 * writes; the pin file itself is read by the machine's real apt-cache when there is one.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { render } from '../../src/render/index.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import { preset } from '../helpers/presets.js';

const CTX = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };
const PGDG = '4.0.4-1.pgdg120+1';
let tmp = '';
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'patroni-pin-'));
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

function deployFor(ha: 'patroni' | 'streaming', patroniVersion = '3.0.2'): string {
  const p = preset('hosts-multi-server-patroni');
  const values = structuredClone(p.values);
  values.database = { ...(values.database as object), ha, version: 17, patroniVersion };
  const spec = resolveSpec([{ source: 'file', values }]).spec;
  return render(spec, CTX).files.get('deploy.sh')!.contents;
}

/** The host-side package script deploy.sh sends to HOST (its case block's variables, its packages_script). */
function packageScript(deploy: string, host: string): string {
  const block = new RegExp(`\\n {2}${host}\\)\\n([\\s\\S]*?)\\n {4};;`).exec(deploy)![1]!;
  const vars = block.split('\n').filter((l) => /^ {4}(packages|pg_major|patroni_version)=/.test(l)).join('\n');
  const fn = /\npackages_script\(\) \{\n[\s\S]*?\n\}\n/.exec(deploy)![0];
  const r = spawnSync('bash', ['-c', `${vars}\n${fn}\npackages_script`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

// A stand-in apt: $STATE/<pkg> holds the installed version; AVAILABLE the versions the sources have
// (newest last); apt-get install takes the pinned version if a source has it, else the newest.
const STUBS: Record<string, string> = {
  dpkg: '#!/bin/sh\n[ "$1" = -s ] && [ -e "$STATE/$2" ]\n',
  'dpkg-query': '#!/bin/sh\neval "p=\\$$#"; [ -e "$STATE/$p" ] && cat "$STATE/$p"\n',
  'apt-cache': '#!/bin/sh\nfor v in $AVAILABLE; do echo " patroni | $v | http://apt.example/ bookworm/main amd64 Packages"; done\n',
  'apt-get': `#!/bin/bash
echo "apt-get $*" >> "$STATE/apt.log"
[ "$1" = update ] && exit 0
pin=$(sed -n 's/^Pin: version //p' "$ROOT"/etc/apt/preferences.d/*.pref 2>/dev/null | head -1)
for p in "$@"; do
  case "$p" in -*|install) continue ;; esac
  v=fake
  if [ "$p" = patroni ]; then
    for a in $AVAILABLE; do v=$a; done
    for a in $AVAILABLE; do if [[ -n "$pin" && "$a" == $pin ]]; then v=$a; fi; done
    if [ -e "$STATE/patroni" ] && [ "$(cat "$STATE/patroni")" != "$v" ] && [[ "$*" != *--allow-downgrades* ]]; then echo "E: downgrade refused" >&2; exit 100; fi
  fi
  echo "$v" > "$STATE/$p"
done
`,
};

/** Runs the script as the host would, its /etc under a folder of its own. */
async function onHost(script: string, o: { installed?: Record<string, string>; available: string[] }) {
  const root = await fs.mkdtemp(path.join(tmp, 'host-'));
  const state = path.join(root, 'state');
  const bin = path.join(root, 'bin');
  await fs.mkdir(state);
  await fs.mkdir(bin);
  for (const [n, s] of Object.entries(STUBS)) await fs.writeFile(path.join(bin, n), s, { mode: 0o755 });
  for (const [p, v] of Object.entries(o.installed ?? {})) await fs.writeFile(path.join(state, p), `${v}\n`);
  const r = spawnSync('sh', ['-c', script.replaceAll(' /etc/', ` ${root}/etc/`)], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, STATE: state, ROOT: root, AVAILABLE: o.available.join(' ') } });
  const read = (p: string) => fs.readFile(p, 'utf8').catch(() => '');
  return { ...r, root, patroni: (await read(path.join(state, 'patroni'))).trim(), apt: await read(path.join(state, 'apt.log')) };
}

describe('deploy.sh: Patroni pinned to database.patroniVersion', () => {
  it('a fresh database host gets the pinned version, not the newer one of apt.postgresql.org; the pin stays for later upgrades', async () => {
    const s = packageScript(deployFor('patroni'), 'db1');
    const r = await onHost(s, { available: ['3.0.2-1', PGDG] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.patroni).toBe('3.0.2-1');
    expect(r.stdout).toContain('Patroni 3.0.2-1');
    const pref = await fs.readFile(path.join(r.root, 'etc/apt/preferences.d/home-registry-patroni.pref'), 'utf8');
    expect(pref).toBe('Package: patroni\nPin: version 3.0.2-*\nPin-Priority: 1001\n');
    // the package step makes no main cluster, as before
    expect(s.indexOf('create_main_cluster = false')).toBeLessThan(s.indexOf('apt-get install'));
  });

  it('a host that has 4.x (an earlier deploy, an apt upgrade) is taken back to the pinned version', async () => {
    const s = packageScript(deployFor('patroni'), 'db1');
    const r = await onHost(s, { installed: { patroni: PGDG, 'postgresql-17': 'x', 'etcd-server': 'x', pgbackrest: 'x' }, available: ['3.0.2-1', PGDG] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.patroni).toBe('3.0.2-1');
    expect(r.apt).toMatch(/install -y -q --allow-downgrades .*patroni/);
  });

  it('nothing to do when the pinned version is installed', async () => {
    const s = packageScript(deployFor('patroni'), 'db1');
    const pk = /for p in ([^;]+); do/.exec(s)![1]!.split(' ');
    const r = await onHost(s, { installed: Object.fromEntries(pk.map((p) => [p, p === 'patroni' ? '3.0.2-1' : 'x'])), available: ['3.0.2-1', PGDG] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.apt).toBe('');
  });

  it('no source with that version: the deploy stops and names the versions there are', async () => {
    const s = packageScript(deployFor('patroni', '3.1.0'), 'db1');
    const r = await onHost(s, { available: ['3.0.2-1', PGDG] });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`deploy.sh: Patroni 3.1.0 is not available here (installed: ${PGDG}; apt has: 3.0.2-1 ${PGDG}): set database.patroniVersion to one of those`);
  });

  it('hosts without Patroni (lb, streaming database) get no pin', () => {
    expect(packageScript(deployFor('patroni'), 'lb1')).not.toContain('patroni');
    expect(packageScript(deployFor('streaming'), 'db1')).not.toContain('patroni');
  });

  it("the machine's apt reads the pin file (priority 1001 on the matching version)", async () => {
    const probe = spawnSync('apt-cache', ['policy', 'patroni'], { encoding: 'utf8' });
    if (probe.error || !/Version table/.test(probe.stdout)) {
      if (process.env.HA_GEN_REQUIRE_TOOLS === '1') throw new Error('apt-cache with a patroni package missing');
      console.warn('deploy-patroni-pin.test: no apt-cache knowing a patroni package here: the pin file is NOT read by real apt');
      return;
    }
    const have = /^ +(?:\*\*\* )?(\S+) \d+\n/m.exec(probe.stdout.split('Version table:')[1]!)![1]!;
    const major = have.replace(/-.*/, '');
    const s = packageScript(deployFor('patroni', major), 'db1');
    const r = await onHost(s, { available: [have] });
    expect(r.status, r.stderr).toBe(0);
    const parts = path.join(r.root, 'etc/apt/preferences.d');
    const pol = spawnSync('apt-cache', ['-o', `Dir::Etc::PreferencesParts=${parts}`, 'policy', 'patroni'], { encoding: 'utf8' });
    expect(pol.stdout).toMatch(new RegExp(` ${have.replace(/[.+]/g, '\\$&')} 1001\\n`));
  });
});
