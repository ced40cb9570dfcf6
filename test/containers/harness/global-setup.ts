/**
 * vitest globalSetup of the `containers` project: builds dist/ (the tests run the built CLI), starts
 * the lab's dockerd (or uses DOCKER_HOST), builds the lab images that are missing or stale, and
 * hands the engine to the test files (inject('dockerHost')); the teardown stops the dockerd it started.
 * Without docker/dockerd the tests skip loudly (dockerHost ''); HA_GEN_REQUIRE_TOOLS=1 fails instead.
 */
import type { TestProject } from 'vitest/node';
import { ensureBuilt } from '../../helpers/cli.js';
import { ensureImages } from '../images/build.mjs';
import { engineRequirements, startEngine } from './dockerd.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The lab engine's DOCKER_HOST, or '' when the container tests are skipped. */
    dockerHost: string;
    dockerSkipReason: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  ensureBuilt();
  const req = engineRequirements('container lab (test/containers)');
  if (req.skip) {
    project.provide('dockerHost', '');
    project.provide('dockerSkipReason', req.reason ?? 'skipped');
    return undefined;
  }
  const engine = await startEngine();
  process.env.DOCKER_HOST = engine.dockerHost;
  try {
    ensureImages({ quiet: false });
  } catch (e) {
    await engine.stop();
    throw e;
  }
  project.provide('dockerHost', engine.dockerHost);
  project.provide('dockerSkipReason', '');
  return async () => {
    await engine.stop();
  };
}
