/**
 * Safe defaults, one test each, over every base spec this build renders (compose, swarm, hosts;
 * nginx, haproxy, caddy; none, streaming, patroni). Patroni files are found by pattern: once they
 * exist, a missing setting fails here.
 */
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Bundle } from '../../src/render/bundle.js';
import { renderBases } from '../property/support.js';

const bases = renderBases();
const all = bases.map((b) => [b.id, b.bundle] as const);
const filesOf = (b: Bundle, re: RegExp) => [...b.files].filter(([p]) => re.test(p));
const patroniFiles = (b: Bundle) => filesOf(b, /(^|\/)patroni[^/]*\.ya?ml$/);

/** Every pg_hba rule a bundle defines: pg_hba files and Patroni's pg_hba lists. */
function hbaRules(b: Bundle): Array<{ where: string; fields: string[] }> {
  const out: Array<{ where: string; fields: string[] }> = [];
  for (const [p, f] of b.files) {
    if (f.checks.some((c) => c.tool === 'pg-hba') || /pg_hba[^/]*\.conf$/.test(p)) {
      for (const l of f.contents.split('\n')) if (l.trim() && !l.trim().startsWith('#')) out.push({ where: p, fields: l.trim().split(/\s+/) });
    }
  }
  for (const [p, f] of patroniFiles(b)) {
    const walk = (v: unknown, k = ''): void => {
      if (Array.isArray(v)) {
        if (k === 'pg_hba') for (const l of v) out.push({ where: `${p} (pg_hba)`, fields: String(l).trim().split(/\s+/) });
        else v.forEach((x) => walk(x));
      } else if (v && typeof v === 'object') for (const [kk, vv] of Object.entries(v)) walk(vv, kk);
    };
    walk(parse(f.contents));
  }
  return out;
}
const NETWORK = new Set(['host', 'hostssl', 'hostnossl', 'hostgssenc', 'hostnogssenc']);
const method = (fields: string[]) => fields[fields[0] === 'local' ? 3 : fields[3]?.includes('/') || fields[3] === 'all' || fields[3] === 'samenet' ? 4 : 5];

describe('safe defaults', () => {
  it('there is something to check', () => {
    expect(bases.length).toBeGreaterThan(0);
    expect(all.some(([, b]) => hbaRules(b).length > 0)).toBe(true);
  });

  it.each(all)('%s: scram-sha-256 everywhere (no md5 / password auth; password_encryption scram)', (_id, b) => {
    for (const r of hbaRules(b)) expect(['md5', 'password', 'crypt', 'ident'], `${r.where}: ${r.fields.join(' ')}`).not.toContain(method(r.fields));
    for (const [p, f] of b.files) {
      const m = /password_encryption\s*[=:]\s*'?"?([a-z0-9-]+)/.exec(f.contents);
      if (m) expect(m[1], p).toBe('scram-sha-256');
      expect(f.contents, p).not.toMatch(/--auth(-host)?[= ](md5|trust|password)\b/);
    }
  });

  it.each(all)('%s: no trust on any network line of any pg_hba', (_id, b) => {
    for (const r of hbaRules(b)) if (NETWORK.has(r.fields[0]!)) expect(method(r.fields), `${r.where}: ${r.fields.join(' ')}`).not.toBe('trust');
  });

  it.each(all)('%s: replication is allowed only from known addresses (no 0.0.0.0/0, all or samenet)', (_id, b) => {
    for (const r of hbaRules(b)) {
      if (!NETWORK.has(r.fields[0]!) || r.fields[1] !== 'replication' || method(r.fields) === 'reject') continue;
      const addr = r.fields[3]!;
      const line = `${r.where}: ${r.fields.join(' ')}`;
      expect(['all', 'samehost', '0.0.0.0/0', '::/0', '0.0.0.0'], line).not.toContain(addr);
      expect(addr.endsWith('/0'), line).toBe(false);
      if (r.where.startsWith('hosts/')) {
        // On VMs: single addresses of inventory hosts (or loopback), never a network.
        expect(addr, line).toMatch(/^(\d+\.\d+\.\d+\.\d+\/32|[0-9a-f:]+\/128|[a-z0-9.-]+[a-z])$/);
      } else {
        // In containers addresses are dynamic: samenet is the database's internal Docker network.
        expect(['samenet'].includes(addr) || /\/(2[4-9]|3[0-2])$/.test(addr), line).toBe(true);
      }
    }
  });

  it.each(all)('%s: the Patroni REST API is behind a password', (_id, b) => {
    for (const [p, f] of patroniFiles(b)) {
      const doc = parse(f.contents) as { restapi?: { authentication?: { username?: string; password?: string } } };
      if (!doc?.restapi) continue;
      const inFile = doc.restapi.authentication?.username && doc.restapi.authentication?.password;
      // Either in the file (as an env reference) or through Patroni's PATRONI_RESTAPI_* variables from .env.
      const viaEnv = b.secrets.some((s) => s.name === 'PATRONI_RESTAPI_PASSWORD') && b.secrets.some((s) => s.name === 'PATRONI_RESTAPI_USERNAME');
      expect(inFile || viaEnv, `${p}: restapi has no authentication`).toBeTruthy();
    }
  });

  it.each(all)('%s: the HAProxy stats page is behind a password and not public by default', (_id, b) => {
    for (const [p, f] of b.files) {
      if (!f.checks.some((c) => c.tool === 'haproxy')) continue;
      const sections = f.contents.split(/\n(?=(?:listen|frontend|backend|defaults|global|resolvers|userlist|peers)\b)/);
      for (const s of sections) if (/^\s*stats enable/m.test(s)) expect(s, `${p}: stats without auth`).toMatch(/^\s*stats auth \S+/m);
    }
  });

  it.each(all.filter(([, b]) => [...b.files.values()].some((f) => /ssl_certificate|ssl crt|\btls\b/.test(f.contents))))('%s: TLS uses the Mozilla intermediate profile (TLS 1.2/1.3, ECDHE AEAD ciphers)', (_id, b) => {
    const ok = /^(ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)|TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)|DHE-RSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305))$/;
    let seen = 0;
    for (const [p, f] of b.files) {
      const tool = f.checks.map((c) => c.tool).find((t) => t === 'nginx' || t === 'haproxy' || t === 'caddy');
      if (!tool) continue;
      const t = f.contents;
      if (tool === 'nginx' && /ssl_certificate/.test(t)) {
        seen++;
        expect(t, p).toMatch(/ssl_protocols TLSv1\.2 TLSv1\.3;/);
        for (const c of /ssl_ciphers ([^;]+);/.exec(t)![1]!.split(':')) expect(c, p).toMatch(ok);
      }
      if (tool === 'haproxy' && /\bssl crt\b/.test(t)) {
        seen++;
        expect(t, p).toMatch(/ssl-default-bind-options[^\n]*(no-tlsv10[^\n]*no-tlsv11|ssl-min-ver TLSv1\.2)|ssl-min-ver TLSv1\.2/);
        for (const c of /ssl-default-bind-ciphers (\S+)/.exec(t)![1]!.split(':')) expect(c, p).toMatch(ok);
      }
      if (tool === 'caddy' && /\btls\b/.test(t)) {
        seen++;
        expect(t, p).toMatch(/protocols tls1\.2 tls1\.3/);
        const m = /ciphers ([^\n]+)/.exec(t);
        if (m) for (const c of m[1]!.trim().split(/\s+/)) expect(c, p).toMatch(ok);
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  it.each(all)('%s: nothing world-writable (no o+w file modes, no chmod 777 / o+w, no 0777 volume modes)', (_id, b) => {
    for (const [p, f] of b.files) {
      expect(f.mode & 0o002, `${p} mode ${f.mode.toString(8)}`).toBe(0);
      const code = f.contents.split('\n').filter((l) => !/^\s*(#|--|\/\/)/.test(l)).join('\n'); // comments may name the guide's chmod 777
      expect(code, p).not.toMatch(/chmod\s+(-R\s+)?(0?[0-7]?[0-7][0-7][2367]\b|[ao]*\+[rwx]*w|o=[rwx]*w)/);
      // YAML `mode:` values: a quoted or 0-prefixed string is octal text, a bare number is decimal
      // (Compose/Swarm read it as an integer: 256 is 0o400).
      for (const m of code.matchAll(/\bmode:\s*(["']?)(\d+)\1\s*$/gm)) {
        const n = m[1] || m[2]!.startsWith('0') ? parseInt(m[2]!, 8) : Number(m[2]);
        expect(n & 0o002, `${p}: mode: ${m[2]}`).toBe(0);
      }
      expect(code, p).not.toMatch(/^UMask=0*[0-7]?[0-7][0145]$/m);
    }
  });

  it.each(all)('%s: containers are not privileged (no privileged, cap_add ALL/SYS_ADMIN, pid/ipc host)', (_id, b) => {
    for (const [p, f] of filesOf(b, /\.ya?ml$/)) {
      for (const d of parseAllDocuments(f.contents)) {
        const services = (d.toJS() as { services?: Record<string, Record<string, unknown>> } | null)?.services;
        for (const [name, s] of Object.entries(services ?? {})) {
          expect(s.privileged, `${p} ${name}`).not.toBe(true);
          expect([s.cap_add].flat().filter((c) => c === 'ALL' || c === 'SYS_ADMIN'), `${p} ${name}`).toEqual([]);
          expect(s.pid, `${p} ${name}`).not.toBe('host');
          expect(s.ipc, `${p} ${name}`).not.toBe('host');
        }
      }
    }
  });

  it.each(all.filter(([, b]) => b.files.has('docker-compose.yml') || [...b.files.keys()].some((p) => /stack\.ya?ml$/.test(p))))('%s: the database is not published on the host', (_id, b) => {
    for (const [p, f] of filesOf(b, /(docker-compose|stack)[^/]*\.ya?ml$/)) {
      const services = (parse(f.contents) as { services?: Record<string, { image?: string; ports?: unknown[] }> }).services ?? {};
      for (const [name, s] of Object.entries(services)) {
        if (!/postgres|patroni|etcd|pgbouncer/.test(`${s.image ?? ''} ${name}`) || /haproxy/.test(s.image ?? '')) continue;
        expect(s.ports ?? [], `${p}: service ${name} publishes ${JSON.stringify(s.ports)}`).toEqual([]);
      }
    }
  });
});
