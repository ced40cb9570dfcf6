import type { Spec } from '../spec/schema.js';
import { BundleBuilder, type Bundle } from './bundle.js';
import type { RenderContext } from './context.js';
import { PLATFORM_TARGETS } from '../targets/platforms.js';
import { renderMultiRegion } from '../targets/regions/index.js';
import { renderOps } from '../targets/ops/index.js';
import { renderEnvFiles } from '../targets/env/index.js';
import { renderReadme } from '../targets/readme/index.js';
import { buildManifest, MANIFEST_PATH } from '../write/manifest.js';

export type { Bundle } from './bundle.js';

/** The bundle for a spec: a pure function. Same spec and context, same bytes, on any machine. */
export function render(spec: Spec, ctx: RenderContext): Bundle {
  const b = new BundleBuilder();
  // 1. the platform decides which services exist and renders their configs
  // Multi-region: one sub-bundle per region (regions/<name>/) plus the global layer.
  if (spec.tier === 'multi-region') renderMultiRegion(spec, ctx, b);
  else PLATFORM_TARGETS[spec.platform].render(spec, ctx, b, {});
  // backups, runbook, smoke/chaos/load tests for the services above
  renderOps(spec, ctx, b);
  // files that list others (deploy.sh's install list) once every target has added its files
  b.runDeferred();
  // 2. files that describe the rest
  const partial = b.build();
  renderEnvFiles(partial, ctx, b);
  renderReadme(spec, ctx, b, b.build());
  // 3. the manifest: which files ha-gen owns and how each is checked
  const done = b.build();
  b.add(MANIFEST_PATH, buildManifest(done.files, done, `ha-gen ${ctx.version}`, ctx.specFile));
  return b.build();
}
