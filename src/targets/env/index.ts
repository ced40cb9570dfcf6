import type { Bundle, BundleBuilder } from '../../render/bundle.js';
import { header, type RenderContext } from '../../render/context.js';

export const ENV_FILE = '.env';
export const MANIFEST_DIR = '.ha-gen';

/** .env.example and .gitignore: the names of the secrets, never their values. */
export function renderEnvFiles(bundle: Pick<Bundle, 'secrets'>, ctx: RenderContext, b: BundleBuilder): void {
  const lines = [header(ctx).trimEnd(), '# The secrets this bundle needs. `ha-gen generate` keeps them in .env (mode 0600, git-ignored),', '# created once from a cryptographic random source; values you set there yourself are kept.', ''];
  for (const s of bundle.secrets) {
    lines.push(`# ${s.help}`, `${s.name}=${s.value ?? ''}`, '');
  }
  b.add('.env.example', lines.join('\n').trimEnd());
  b.add('.gitignore', `${header(ctx).trimEnd()}\n# Secrets stay out of version control.\n${ENV_FILE}\n*.env.local\n`);
}
