/**
 * Issue 15: hosts deploy.sh installs every file with an explicit mode, owner and group from the
 * bundle, never the local checkout's (an operator's umask 077 left patroni.yml 0600 root-owned).
 */
import { describe, expect, it } from 'vitest';
import { render } from '../../src/render/index.js';
import { fileOwnership } from '../../src/targets/hosts/ownership.js';
import { PRESETS, presetSpec } from '../helpers/presets.js';

const CTX = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };

/** deploy.sh's per-host install lines: host -> path -> "MODE OWNER GROUP". */
function installLines(script: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let host = '';
  for (const line of script.split('\n')) {
    const h = /^ {2}([a-z0-9-]+)\)$/.exec(line);
    if (h) host = h[1]!;
    const f = /^ {4}files=\((.*)\)$/.exec(line);
    if (f && host) out.set(host, new Map([...f[1]!.matchAll(/'(0[0-7]{3}) ([a-z-]+) ([a-z-]+) (\/\S+)'/g)].map((m) => [m[4]!, `${m[1]} ${m[2]} ${m[3]}`])));
  }
  return out;
}

const hostsPresets = PRESETS.filter((p) => p.id.startsWith('hosts-'));

describe.each(hostsPresets.map((p) => [p.id, p] as const))('deploy.sh file ownership: %s', (_id, p) => {
  it('every file under hosts/<h>/ has an explicit mode, owner and group in its deploy.sh', () => {
    const files = render(presetSpec(p), CTX).files;
    const scripts = [...files.keys()].filter((k) => /^(regions\/[^/]+\/)?deploy\.sh$/.test(k));
    expect(scripts.length).toBeGreaterThan(0);
    let checked = 0;
    for (const s of scripts) {
      const base = s.slice(0, -'deploy.sh'.length);
      const lines = installLines(files.get(s)!.contents);
      const hostFiles = [...files.keys()].filter((k) => k.startsWith(`${base}hosts/`));
      for (const k of hostFiles) {
        const [host, ...rest] = k.slice(`${base}hosts/`.length).split('/');
        const abs = `/${rest.join('/')}`;
        const got = lines.get(host!)?.get(abs);
        expect(got, `${s}: ${host} ${abs}`).toMatch(/^0[0-7]{3} [a-z-]+ [a-z-]+$/);
        // executables stay executable, nothing is world-writable
        const mode = parseInt(got!.split(' ')[0]!, 8);
        expect(mode & 0o002, k).toBe(0);
        expect((mode & 0o100) !== 0, k).toBe((files.get(k)!.mode & 0o111) !== 0);
        checked++;
      }
      // and nothing is installed that the bundle does not hold
      for (const [host, m] of lines) for (const abs of m.keys()) expect(files.has(`${base}hosts/${host}${abs}`), `${s}: ${host} ${abs}`).toBe(true);
    }
    expect(checked).toBeGreaterThan(10);
  });
});

describe('who can read what', () => {
  const canRead = (o: { mode: string; owner: string; group: string }, user: string) => {
    const m = parseInt(o.mode, 8);
    return (m & 0o004) !== 0 || (o.owner === user && (m & 0o400) !== 0) || (o.group === user && (m & 0o040) !== 0);
  };
  it.each([
    ['/etc/patroni/patroni.yml', 'postgres'],
    ['/etc/pgbackrest/pgbackrest.conf', 'postgres'],
    ['/etc/postgresql/17/main/pg_hba.conf', 'postgres'],
    ['/etc/etcd/etcd.conf.yml', 'etcd'],
    ['/etc/haproxy/haproxy-db.cfg', 'haproxy'],
    ['/etc/caddy/Caddyfile', 'caddy'],
    ['/etc/home-registry/app-role.psql', 'postgres'],
  ])('%s is readable by %s and not by others', (p, user) => {
    const o = fileOwnership('home-registry', p, 0o644);
    expect(canRead(o, user)).toBe(true);
    if (!p.startsWith('/etc/home-registry/')) expect(canRead(o, 'nobody')).toBe(false);
  });
});
