/** Spec versions: checked, a future version refused with a message, and a migration hook that upgrades old files. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import { parseSpecText } from '../../src/spec/load.js';
import { migrate } from '../../src/spec/resolve.js';
import { SPEC_VERSION } from '../../src/spec/schema.js';
import { cleanupTempDirs, hashTree, runCli, tempDir } from '../helpers/cli.js';

const specError = (f: () => unknown): SpecError => {
  try {
    f();
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error('no SpecError');
};

describe('spec versions', () => {
  afterAll(cleanupTempDirs);

  it('the current version and a missing version are read', () => {
    expect(parseSpecText(`version: ${SPEC_VERSION}\n`).version).toBe(SPEC_VERSION);
    expect(parseSpecText('name: x\n').name).toBe('x');
  });

  it.each([
    [`version: ${SPEC_VERSION + 1}`, /newer than this ha-gen/],
    ['version: 99', /upgrade ha-gen/],
    ['version: "1"', /not a format version/],
    ['version: 1.5', /not a format version/],
    ['version: 0', /cannot be read/],
    ['version: -3', /cannot be read/],
  ])('%s is refused at key "version" with a message', (text, msg) => {
    const e = specError(() => parseSpecText(`${text}\n`));
    expect(e.issues[0]!.path).toBe('version');
    expect(e.issues[0]!.message).toMatch(msg);
  });

  it('an unknown future version exits 2 through the CLI and writes nothing', async () => {
    const dir = await tempDir('i7-version');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), `version: ${SPEC_VERSION + 1}\nname: x\n`);
    const before = await hashTree(dir);
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/version/);
    expect(r.stderr).toMatch(/newer than this ha-gen/);
    expect(await hashTree(dir)).toEqual(before);
  });

  it('the migration hook upgrades an old file one step at a time (fake v0 -> v1 -> v2)', () => {
    const steps = {
      0: (d: Record<string, unknown>) => {
        const { appName, ...rest } = d;
        return { ...rest, version: 1, name: appName };
      },
      1: (d: Record<string, unknown>) => ({ ...d, version: 2, tier: d.tier ?? 'single-server' }),
    };
    expect(migrate({ version: 0, appName: 'legacy' }, steps, 1)).toEqual({ version: 1, name: 'legacy' });
    expect(migrate({ version: 0, appName: 'legacy' }, steps, 2)).toEqual({ version: 2, name: 'legacy', tier: 'single-server' });
    expect(migrate({ version: 2, name: 'x' }, steps, 2)).toEqual({ version: 2, name: 'x' });
    // A version with no step is refused, not passed through.
    expect(specError(() => migrate({ version: 0 }, {}, 1)).issues[0]!.message).toMatch(/cannot be read/);
    // A step that forgets to bump the version is a bug, caught at once.
    expect(() => migrate({ version: 0 }, { 0: (d) => d }, 1)).toThrow(/did not produce version 1/);
  });
});
