import type { Bundle, BundleBuilder } from '../../render/bundle.js';
import { header, type RenderContext } from '../../render/context.js';

export const ENV_FILE = '.env';
export const MANIFEST_DIR = '.ha-gen';
/** The bundle's CA and certificates (targets/pki.ts): secret material like .env, never generated text. */
export const PKI_DIR = 'pki';

/** .env.example and .gitignore: the names of the secrets, never their values. */
export function renderEnvFiles(bundle: Pick<Bundle, 'secrets' | 'certs'>, ctx: RenderContext, b: BundleBuilder): void {
  const lines = [header(ctx).trimEnd(), '# The secrets this bundle needs. `ha-gen generate` keeps them in .env (mode 0600, git-ignored),', '# created once from a cryptographic random source; values you set there yourself are kept.', ''];
  for (const s of bundle.secrets) {
    lines.push(`# ${s.help}`, `${s.name}=${s.value ?? ''}`, '');
  }
  b.add('.env.example', lines.join('\n').trimEnd());
  // pki/ (the CA key, every host's key) only when this bundle has one: the other goldens stay as they were.
  const pki = bundle.certs.length ? `${PKI_DIR}/\n` : '';
  b.add('.gitignore', `${header(ctx).trimEnd()}\n# Secrets stay out of version control.\n${ENV_FILE}\n*.env.local\n${pki}`);
}
