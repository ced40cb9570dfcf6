/**
 * The bundle's CA at the edge (src/write/pki.ts): made once with openssl, kept across runs, a host
 * certificate issued again when its SANs no longer cover the host, and a user's own CA (no ca.key)
 * never replaced; rendering only names the certificates.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensurePki, pkiComplete } from '../../src/write/pki.js';
import { hostCert } from '../../src/targets/pki.js';
import { skipUnlessTool } from '../helpers/tools.js';

const tools = skipUnlessTool(['openssl'], 'pki generation');
const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ha-gen-pki-'));
  dirs.push(d);
  return path.join(d, 'pki');
};
const sans = (f: string) => execFileSync('openssl', ['x509', '-in', f, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });

describe.skipIf(tools.skip)('pki/ at the edge', () => {
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const db1 = hostCert('shop', '', { name: 'db1', address: '10.0.2.10' });

  it('makes a CA and a host certificate that verifies for server and client use, keys 0600 in a 0700 folder', () => {
    const dir = tmp();
    const made = ensurePki(dir, [db1], 'test CA');
    expect(made).toEqual(['pki/ca.crt', 'pki/ca.key', 'pki/db1.crt', 'pki/db1.key']);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of fs.readdirSync(dir)) expect(fs.statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    for (const purpose of ['sslserver', 'sslclient']) execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', purpose, path.join(dir, 'db1.crt')]);
    expect(sans(path.join(dir, 'db1.crt'))).toMatch(/DNS:db1, IP Address:10\.0\.2\.10, DNS:localhost, IP Address:127\.0\.0\.1/);
    // the CN is never a user name etcd knows (client-cert-auth takes it as one)
    expect(db1.cn).toBe('shop-db1');
    expect(pkiComplete(dir, [db1])).toBe(true);
  });

  it('keeps what is there, and issues a certificate again when the host got a new address', () => {
    const dir = tmp();
    ensurePki(dir, [db1], 'test CA');
    const before = fs.readFileSync(path.join(dir, 'db1.crt'), 'utf8');
    const ca = fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8');
    expect(ensurePki(dir, [db1], 'test CA')).toEqual([]);
    expect(fs.readFileSync(path.join(dir, 'db1.crt'), 'utf8')).toBe(before);
    const moved = hostCert('shop', '', { name: 'db1', address: '10.0.2.99' });
    expect(pkiComplete(dir, [moved])).toBe(false);
    expect(ensurePki(dir, [moved], 'test CA')).toEqual(['pki/db1.crt', 'pki/db1.key']);
    expect(sans(path.join(dir, 'db1.crt'))).toMatch(/10\.0\.2\.99/);
    expect(fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8')).toBe(ca);
  });

  it('with the user\'s own CA (no ca.key), a missing certificate is an error naming it, and nothing is replaced', () => {
    const dir = tmp();
    ensurePki(dir, [db1], 'test CA');
    fs.rmSync(path.join(dir, 'ca.key'));
    const db2 = hostCert('shop', '', { name: 'db2', address: '10.0.2.11' });
    expect(() => ensurePki(dir, [db1, db2], 'test CA')).toThrow(/pki\/db2\.crt and pki\/db2\.key are missing and pki\/ca\.key is not here/);
    expect(fs.existsSync(path.join(dir, 'ca.key'))).toBe(false);
  });

  it('no certificates named: no pki/ folder at all', () => {
    const dir = tmp();
    expect(ensurePki(dir, [], 'test CA')).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
