import { loadSpecFile } from '../spec/load.js';
import { resolveSpec } from '../spec/resolve.js';
import { buildPlan } from '../plan/index.js';
import { planText } from '../plan/format.js';

/** `ha-gen plan`: what the spec will produce, written nowhere. */
export async function planCommand(opts: { config: string; json?: boolean }): Promise<number> {
  const values = await loadSpecFile(opts.config);
  const { spec, warnings } = resolveSpec([{ source: 'file', values }]);
  const plan = buildPlan(spec);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ...plan, specWarnings: warnings }, null, 2)}\n`);
    return 0;
  }
  // plan.warnings are the rules' warnings (the same list): printed once, in the plan.
  process.stdout.write(planText(plan));
  return 0;
}
