/** TLS material in `ha-gen validate`: throwaway certificates for configs, and the bundle's own pki/ checked with openssl. */
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CA_CERT, PKI_DIR } from '../targets/pki.js';
import { exec } from './exec.js';
import { once, type CheckEnv, type Checker } from './common.js';

/** A throwaway EC certificate and key (plus a combined PEM for HAProxy) that TLS configs are pointed at. */
export function throwawayCerts(env: CheckEnv): Promise<{ cert: string; key: string; combined: string }> {
  return once(env, 'certs', async () => {
    const dir = path.join(env.tmp, 'certs');
    await fs.mkdir(dir, { recursive: true });
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const r = await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-days', '2', '-keyout', key, '-out', cert]);
    if (r.exitCode !== 0) throw new Error(`openssl could not make a throwaway certificate: ${r.all}`);
    const combined = path.join(dir, 'combined.pem');
    await fs.writeFile(combined, (await fs.readFile(cert, 'utf8')) + (await fs.readFile(key, 'utf8')));
    await fs.chmod(key, 0o644);
    return { cert, key, combined };
  });
}

/** The validate tasks for the bundle's certificates (manifest.certs): pki/<name>.crt, each checked by x509Checker. */
export const certFiles = (certs: string[] | undefined) => (certs ?? []).map((c) => `${PKI_DIR}/${c}.crt`);

/** 30 days: a certificate closer to its end than this fails, so it is issued again in time (README: rotation). */
const MIN_VALIDITY_S = 30 * 24 * 3600;

/**
 * A certificate of the bundle's CA: `openssl verify -CAfile pki/ca.crt` for both uses (etcd and
 * Patroni serve with it and connect with it), its key matches it, and it is not about to expire.
 * pki/ stays out of git, so a bundle checked out without it has nothing to verify (skipped).
 */
export const x509Checker: Checker = {
  needs: ['openssl'],
  install: 'apt-get install openssl',
  async run(env, file) {
    const crt = path.join(env.bundleDir, file);
    const ca = path.join(env.bundleDir, PKI_DIR, CA_CERT);
    const key = crt.replace(/\.crt$/, '.key');
    const absent = [crt, key, ca].filter((f) => !existsSync(f)).map((f) => path.relative(env.bundleDir, f));
    if (absent.length) return { ok: false, skipped: true, message: `${absent.join(', ')} not here (\`ha-gen generate\` creates pki/, which stays out of git): nothing to verify` };
    for (const purpose of ['sslserver', 'sslclient']) {
      const v = await exec('openssl', ['verify', '-CAfile', ca, '-purpose', purpose, crt]);
      if (v.exitCode !== 0) return { ok: false, message: `openssl verify -CAfile ${PKI_DIR}/${CA_CERT} -purpose ${purpose}: ${v.all}` };
    }
    const [a, b] = await Promise.all([exec('openssl', ['x509', '-in', crt, '-noout', '-pubkey']), exec('openssl', ['pkey', '-in', key, '-pubout'])]);
    if (a.exitCode !== 0 || b.exitCode !== 0 || a.stdout.trim() !== b.stdout.trim()) return { ok: false, message: `${path.basename(key)} is not the key of ${path.basename(crt)}${b.exitCode !== 0 ? `: ${b.all}` : ''}` };
    const end = await exec('openssl', ['x509', '-in', crt, '-noout', '-checkend', String(MIN_VALIDITY_S)]);
    if (end.exitCode !== 0) return { ok: false, message: `expires within 30 days: issue it again (remove it and run \`ha-gen generate\`)` };
    return { ok: true, message: `openssl verify -CAfile ${PKI_DIR}/${CA_CERT}: OK (server and client use); the key matches; valid for 30 days or more` };
  },
};
