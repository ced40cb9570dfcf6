import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import { resolveSpec } from '../spec/resolve.js';
import { checkOutDir, planWrite, writeBundle } from '../write/index.js';
import { randomSecret } from '../write/secrets.js';
import { checkLayerValues, flagsToLayer, renderSpec, specToYaml, type InitFlags } from './pipeline.js';
import { summary } from './generate.js';
import { say, warn } from '../cli/output.js';

export async function initCommand(flags: InitFlags): Promise<number> {
  // 1. flags first: a bad flag fails before any question is asked
  const flagLayer = flagsToLayer(flags);
  checkLayerValues(flagLayer);
  checkOutDir(flags.out);
  const interactive = !flags.yes && !!process.stdin.isTTY && !!process.stdout.isTTY;

  // 2. questions for what the flags left open (only on a terminal)
  let answers: Record<string, unknown> = {};
  let inventoryNote: string | undefined;
  let wizard: typeof import('../wizard/index.js') | undefined;
  if (interactive) {
    wizard = await import('../wizard/index.js');
    answers = await wizard.askQuestions(flagLayer.values, await wizard.inquirerPrompter());
  } else {
    // platform hosts needs an inventory: write the wizard's example for the user to edit
    const ex = (await import('../wizard/index.js')).defaultExamples(flagLayer.values);
    if (ex) {
      answers = ex.values;
      inventoryNote = `${flags.config}: ${ex.note}`;
    }
  }

  // 3. resolve, render, and check ownership before writing anything
  const { spec, warnings } = resolveSpec([flagLayer, { source: 'answers', values: answers }]);
  const specText = specToYaml(spec);
  const existing = await fs.readFile(flags.config, 'utf8').catch(() => null);
  if (existing !== null && existing !== specText && !flags.force) {
    throw new UsageError(`${flags.config} already exists with other settings; edit it and run \`ha-gen generate\`, or re-run init with --force to replace it`);
  }
  const bundle = renderSpec(spec, flags.config);
  warnings.forEach(warn);
  if (inventoryNote) warn(inventoryNote);
  if (wizard) {
    const plan = await planWrite(path.resolve(flags.out), bundle);
    const ok = await wizard.confirmWrite(await wizard.inquirerPrompter(), spec, flags.config, flags.out, bundle.files.size, plan.conflicts.length);
    if (!ok) {
      say('Nothing written.');
      return 0;
    }
  }

  // 4. write the bundle, then the spec file (atomically)
  const res = await writeBundle(flags.out, bundle, { force: !!flags.force, randomSecret });
  if (existing !== specText) {
    const tmp = `${flags.config}.ha-gen-tmp-${process.pid}`;
    await fs.mkdir(path.dirname(path.resolve(flags.config)), { recursive: true });
    await fs.writeFile(tmp, specText, { mode: 0o644 });
    await fs.rename(tmp, flags.config);
  }
  say(`✔ ${flags.config}: spec written (tier ${spec.tier}, platform ${spec.platform}, ${spec.loadBalancer.kind}, database ${spec.database.ha})`);
  say(summary(flags.out, res.plan.write.length + (flags.force ? res.plan.conflicts.length : 0), res.plan.unchanged.length, res.plan.remove.length, res.envCreated, res.pkiCreated));
  say(`Next: read ${path.join(flags.out, 'README.md')}, then \`ha-gen validate ${flags.out}\`.`);
  return 0;
}
