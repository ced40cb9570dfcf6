/**
 * The bundle's private CA and its certificates, made at the edge (never while rendering) with the
 * `openssl` program: pki/ca.crt + ca.key once, then pki/<name>.crt + .key for every certificate the
 * bundle names (targets/pki.ts). Like .env: created 0600 in a 0700 folder, never overwritten. A
 * certificate whose SANs no longer cover what the bundle needs (a host's new address) is issued
 * again when ca.key is here; with a CA of the user's own (no ca.key), that is an error naming it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CertRequest } from '../render/bundle.js';
import { UsageError } from '../errors.js';
import { CA_CERT, CA_KEY } from '../targets/pki.js';

/** Validity: the CA 10 years, host certificates 825 days (the longest most TLS clients accept). */
const CA_DAYS = 3650;
const CERT_DAYS = 825;

function openssl(args: string[], cwd: string): string {
  try {
    return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new UsageError('ha-gen needs the `openssl` program to create the bundle\'s CA and certificates (pki/): install it (apt-get install openssl), or put your own files in pki/ (see the bundle README)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

const exists = (p: string) => fs.existsSync(p);

/** Which SANs of `want` the certificate at `crt` lacks (read in-process: no program runs on a no-change generate). */
function missingSans(dir: string, crt: string, want: string[]): string[] {
  const san = new X509Certificate(fs.readFileSync(path.join(dir, crt))).subjectAltName ?? '';
  const have = new Set(san.split(',').map((s) => s.trim().replace(/^IP Address:/, 'IP:')).filter(Boolean));
  return want.filter((s) => !have.has(s));
}

function writeExt(dir: string, req: CertRequest): string {
  const ext = path.join(dir, `.${req.name}.ext`);
  fs.writeFileSync(ext, ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth,clientAuth', `subjectAltName=${req.sans.join(',')}`, ''].join('\n'), { mode: 0o600 });
  return ext;
}

/** Creates what pki/ lacks; returns the files it wrote (relative to the bundle). */
export function ensurePki(pkiDir: string, certs: CertRequest[], caName: string): string[] {
  if (!certs.length) return [];
  const made: string[] = [];
  fs.mkdirSync(pkiDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(pkiDir, 0o700);
  const rel = (f: string) => `${path.basename(pkiDir)}/${f}`;
  const key = (f: string) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f];
  // (no umask change: not allowed in worker threads; the 0700 folder keeps others out until the chmod below)
  try {
    if (!exists(path.join(pkiDir, CA_CERT))) {
      if (exists(path.join(pkiDir, CA_KEY))) throw new UsageError(`${rel(CA_KEY)} exists without ${rel(CA_CERT)}: put the CA certificate back, or remove both to get a new CA`);
      openssl(['req', '-x509', ...key(CA_KEY), '-out', CA_CERT, '-days', String(CA_DAYS), '-subj', `/CN=${caName}`, '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], pkiDir);
      made.push(rel(CA_CERT), rel(CA_KEY));
    }
    const canIssue = exists(path.join(pkiDir, CA_KEY));
    for (const req of certs) {
      const crt = `${req.name}.crt`;
      const k = `${req.name}.key`;
      const present = exists(path.join(pkiDir, crt)) && exists(path.join(pkiDir, k));
      if (present) {
        const lacking = missingSans(pkiDir, crt, req.sans);
        if (!lacking.length) continue;
        if (!canIssue) throw new UsageError(`${rel(crt)} lacks ${lacking.join(', ')} (the inventory changed) and ${rel(CA_KEY)} is not here to issue it again: issue it with your CA, or remove it`);
      } else if (!canIssue) {
        throw new UsageError(`${rel(crt)} and ${rel(k)} are missing and ${rel(CA_KEY)} is not here to issue them: issue them with your CA (SANs ${req.sans.join(', ')}), or add ${rel(CA_KEY)}`);
      }
      const csr = `.${req.name}.csr`;
      const ext = writeExt(pkiDir, req);
      try {
        openssl(['req', '-new', ...key(`${k}.new`), '-out', csr, '-subj', `/CN=${req.cn}`], pkiDir);
        openssl(['x509', '-req', '-in', csr, '-CA', CA_CERT, '-CAkey', CA_KEY, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', String(CERT_DAYS), '-sha256', '-extfile', ext, '-out', `${crt}.new`], pkiDir);
        fs.renameSync(path.join(pkiDir, `${k}.new`), path.join(pkiDir, k));
        fs.renameSync(path.join(pkiDir, `${crt}.new`), path.join(pkiDir, crt));
      } finally {
        for (const f of [csr, ext, `${k}.new`, `${crt}.new`]) fs.rmSync(path.resolve(pkiDir, f), { force: true });
      }
      made.push(rel(crt), rel(k));
    }
  } finally {
    for (const f of fs.readdirSync(pkiDir)) if (/\.(crt|key)$/.test(f)) fs.chmodSync(path.join(pkiDir, f), 0o600);
  }
  return made;
}

/** Whether pki/ already holds every certificate (and the CA) the bundle names: the no-change fast path. */
export function pkiComplete(pkiDir: string, certs: CertRequest[]): boolean {
  if (!certs.length) return true;
  if (!exists(path.join(pkiDir, CA_CERT))) return false;
  return certs.every((c) => exists(path.join(pkiDir, `${c.name}.crt`)) && exists(path.join(pkiDir, `${c.name}.key`)) && !missingSans(pkiDir, `${c.name}.crt`, c.sans).length);
}
