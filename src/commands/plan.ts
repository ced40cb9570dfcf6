import { loadSpecFile } from '../spec/load.js';
import { resolveSpec } from '../spec/resolve.js';
import { assertBackupSpec, buildPlan } from '../plan/index.js';
import { planText } from '../plan/format.js';
import { warn } from '../cli/output.js';

/** `ha-gen plan`: what the spec will produce, written nowhere. */
export async function planCommand(opts: { config: string; json?: boolean }): Promise<number> {
  const values = await loadSpecFile(opts.config);
  const { spec, warnings } = resolveSpec([{ source: 'file', values }]);
  assertBackupSpec(spec);
  const plan = buildPlan(spec);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ...plan, specWarnings: warnings }, null, 2)}\n`);
    return 0;
  }
  warnings.forEach(warn);
  process.stdout.write(planText(plan));
  return 0;
}
