import * as path from 'node:path';
import { parseSpecText, readSpecFile } from '../spec/load.js';
import { resolveSpec } from '../spec/resolve.js';
import { checkDrift, MANIFEST_PATH, sha256, writeBundle } from '../write/index.js';
import { renderKey, writeRenderCache } from '../write/render-cache.js';
import { randomSecret } from '../write/secrets.js';
import { renderSpec } from './pipeline.js';
import { err, matchesLine, out, say, warn } from '../cli/output.js';

/** The options of `ha-gen generate` (cli/index.ts). */
export interface GenerateOpts {
  config: string;
  out: string;
  force?: boolean;
  check?: boolean;
}

export async function generateCommand(opts: GenerateOpts): Promise<number> {
  const bytes = await readSpecFile(opts.config);
  const values = parseSpecText(bytes.toString('utf8'), opts.config);
  const { spec, warnings } = resolveSpec([{ source: 'file', values }]);
  warnings.forEach(warn);
  const bundle = renderSpec(spec, opts.config);
  // remembered for a later `generate --check` of the same spec (write/render-cache.ts)
  const key = renderKey(opts.config, bytes);
  const manifest = bundle.files.get(MANIFEST_PATH);
  if (key && manifest) writeRenderCache(key, { manifest: sha256(manifest.contents), manifestMode: manifest.mode, files: bundle.files.size, warnings });
  if (opts.check) {
    const drift = await checkDrift(opts.out, bundle);
    if (!drift.length) {
      say(matchesLine(opts.out, opts.config, bundle.files.size));
      return 0;
    }
    for (const d of drift) process.stdout.write(d.diff.endsWith('\n') ? d.diff : `${d.diff}\n`);
    process.stderr.write(`${err.red('drift:')} ${drift.length} file(s) in ${opts.out} differ from what ${opts.config} renders:\n`);
    for (const d of drift) process.stderr.write(`  ${d.kind.padEnd(7)} ${path.join(opts.out, d.path)}\n`);
    process.stderr.write('Run `ha-gen generate` to bring the folder back in line (it refuses to overwrite hand edits without --force).\n');
    return 1;
  }
  const res = await writeBundle(opts.out, bundle, { force: !!opts.force, randomSecret });
  say(summary(opts.out, res.plan.write.length + (opts.force ? res.plan.conflicts.length : 0), res.plan.unchanged.length, res.plan.remove.length, res.envCreated, res.pkiCreated));
  return 0;
}

export function summary(outDir: string, written: number, unchanged: number, removed: number, envAdded: string[], pkiCreated: string[] = []): string {
  const parts = [`${written} written`, `${unchanged} unchanged`];
  if (removed) parts.push(`${removed} removed`);
  const env = envAdded.length ? `; .env: added ${envAdded.join(', ')}` : '';
  const pki = pkiCreated.length ? `; pki/: created ${pkiCreated.length} file(s) (CA, certificates, keys: keep them private)` : '';
  return `${out.green('✔')} ${outDir}: ${parts.join(', ')}${env}${pki}`;
}
