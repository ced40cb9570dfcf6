/**
 * Issue 15: deploy.sh installs postgresql-N from the OS only where the OS ships that major (Debian 12
 * ships 15, Ubuntu 24.04 16); elsewhere it first adds apt.postgresql.org with its pinned key. The
 * host-side script is run here against fake os-release files, in its "check" mode (no changes).
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
const FPR = 'B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8';
let tmp = '';
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgdg-'));
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

function deployFor(version: number): string {
  const p = preset('hosts-multi-server-patroni');
  const values = structuredClone(p.values);
  values.database = { ...(values.database as object), version };
  const spec = resolveSpec([{ source: 'file', values }]).spec;
  return render(spec, CTX).files.get('deploy.sh')!.contents;
}

/** Runs deploy.sh's pgdg_script (taken from the generated file) on a fake os-release. */
async function hostSide(script: string, major: string, id: string, codename: string, check = 'check') {
  const file = path.join(tmp, `os-release-${id}-${codename}`);
  await fs.writeFile(file, `PRETTY_NAME="${id} ${codename}"\nID=${id}\nVERSION_CODENAME=${codename}\n`);
  const dsh = path.join(tmp, `deploy-${major}.sh`);
  await fs.writeFile(dsh, script);
  // the generated functions only (from the key to the first echo), then the host-side script under sh
  const r = spawnSync('bash', ['-c', `source <(sed -n '/^pgdg_fpr=/,/^echo "==> /p' "$1" | sed '$d'); pgdg_script "$2" "$4" | OS_RELEASE="$3" sh`, 'x', dsh, major, file, check], { encoding: 'utf8' });
  return r;
}

describe('deploy.sh: PostgreSQL from the OS or from apt.postgresql.org', () => {
  it('version 17 on Debian 12 (ships 15) and Ubuntu 24.04 (ships 16): adds bookworm-pgdg / noble-pgdg', async () => {
    const s = deployFor(17);
    for (const [id, cn, own] of [['debian', 'bookworm', '15'], ['ubuntu', 'noble', '16']] as const) {
      const r = await hostSide(s, '17', id, cn);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`PostgreSQL 17: ${id} ${cn} ships ${own}; adding apt.postgresql.org (${cn}-pgdg, key ${FPR})`);
    }
    // Debian 13 ships 17 itself
    const t = await hostSide(s, '17', 'debian', 'trixie');
    expect(t.stdout).toContain("PostgreSQL 17: from debian trixie's own packages");
    expect(t.stdout).not.toContain('adding');
  });

  it('version 15 on Debian 12: the OS packages, no repository', async () => {
    const s = deployFor(15);
    expect(s).toContain('pg_major="15"');
    const r = await hostSide(s, '15', 'debian', 'bookworm');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("PostgreSQL 15: from debian bookworm's own packages");
    expect(r.stdout).not.toContain('apt.postgresql.org');
  });

  it('an OS it does not know is refused with the ones it knows', async () => {
    const r = await hostSide(deployFor(17), '17', 'fedora', 'x');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('not a known target (Debian 11-13, Ubuntu 22.04/24.04)');
  });

  it('the real (non-check) script writes a signed-by source for CODENAME-pgdg, and deploy.sh runs it before the package install', () => {
    const s = deployFor(17);
    expect(s).toContain('deb [signed-by=/etc/apt/keyrings/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt \\$VERSION_CODENAME-pgdg main');
    const run = s.indexOf('pgdg_key | remote "$(pgdg_script "$pg_major")"');
    const pkgs = s.indexOf('remote "$(packages_script)"');
    expect(run).toBeGreaterThan(0);
    expect(pkgs).toBeGreaterThan(run);
    // db hosts get the check, hosts without PostgreSQL do not
    expect(s).toMatch(/ {2}db1\)[^;]*pg_major="17"/);
    expect(s).toMatch(/ {2}lb1\)[^;]*pg_major=""/);
  });

  it('the pinned key is the PostgreSQL apt repository key', async () => {
    const s = deployFor(17);
    const key = /pgdg_key\(\) \{\n {2}cat <<'KEY'\n([\s\S]*?)KEY\n/.exec(s)?.[1];
    expect(key).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*-----END PGP PUBLIC KEY BLOCK-----\n$/);
    const gpg = spawnSync('gpg', ['--show-keys', '--with-colons'], { input: key, encoding: 'utf8' });
    if (gpg.error) {
      if (process.env.HA_GEN_REQUIRE_TOOLS === '1') throw new Error('gpg missing');
      console.warn('deploy-pgdg.test: gpg not installed: the key fingerprint is NOT checked');
      return;
    }
    expect(gpg.stdout).toContain(`fpr:::::::::${FPR}:`);
  });
});
