import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HaGenError, SpecError, UsageError, type Issue } from '../../src/errors.js';
import { loadSpecFile, parseSpecText, SPEC_LIMITS } from '../../src/spec/load.js';
import { resolveSpec } from '../../src/spec/resolve.js';

function issuesOf(fn: () => unknown): { message: string; issues: Issue[] } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return { message: (e as SpecError).message, issues: (e as SpecError).issues };
  }
  throw new Error('expected a SpecError, nothing was thrown');
}

describe('parseSpecText', () => {
  it('reads a spec file into plain values (no defaults applied)', () => {
    expect(parseSpecText('version: 1\nname: shop\napp:\n  port: 9000\n')).toEqual({ version: 1, name: 'shop', app: { port: 9000 } });
  });

  it('an empty file is an empty spec (every key has a default)', () => {
    expect(parseSpecText('')).toEqual({});
    expect(parseSpecText('# only a comment\n')).toEqual({});
  });

  it('a YAML syntax error names the file and line', () => {
    const { message, issues } = issuesOf(() => parseSpecText('version: 1\napp:\n  port: [80\n', 'my.yaml'));
    expect(message).toMatch(/my.yaml is not valid YAML/);
    expect(issues[0]!.path).toMatch(/^my\.yaml:\d+$/);
  });

  it('a duplicate key is an error, not "last one wins"', () => {
    const { issues } = issuesOf(() => parseSpecText('version: 1\nname: a\nname: b\n'));
    expect(issues[0]!.path).toBe('ha-gen.yaml:3');
    expect(issues[0]!.message).toMatch(/unique|duplicate/i);
  });

  it('__proto__, constructor and prototype keys are refused at any depth, naming the key', () => {
    const { issues } = issuesOf(() => parseSpecText('version: 1\n__proto__:\n  tier: multi-server\napp:\n  env:\n    constructor: x\nhosts:\n  - {name: a, prototype: b}\n'));
    expect(issues.map((i) => i.path)).toEqual(['__proto__', 'app.env.constructor', 'hosts.prototype']);
    for (const i of issues) expect(i.message).toMatch(/is not allowed/);
    // and nothing reached Object.prototype
    expect(({} as Record<string, unknown>).tier).toBeUndefined();
  });

  it('a spec past the limits is refused before it is parsed: bytes, lines, keys per mapping, items per list', () => {
    expect(issuesOf(() => parseSpecText(`version: 1\nname: ${'a'.repeat(SPEC_LIMITS.bytes)}\n`)).issues[0]!.message).toMatch(/at most 1048576 bytes/);
    expect(issuesOf(() => parseSpecText('version: 1\n' + '#\n'.repeat(SPEC_LIMITS.lines))).issues[0]!.message).toMatch(/at most 50000/);
    const env = Array.from({ length: SPEC_LIMITS.keysPerMap + 1 }, (_, i) => `    K${i}: v`).join('\n');
    expect(issuesOf(() => parseSpecText(`version: 1\napp:\n  env:\n${env}\n`)).issues[0]).toEqual({ path: 'app.env', message: expect.stringMatching(/1001 keys; at most 1000/) });
    // 300 000 keys (the hostile spec of issue 14): refused by its size at once, never parsed
    const huge = `version: 1\napp:\n  env:\n${Array.from({ length: 300_000 }, (_, i) => `    K${i}: v`).join('\n')}\n`;
    expect(issuesOf(() => parseSpecText(huge)).message).toMatch(/too large/);
  });

  it('a list or a scalar at the top is refused', () => {
    expect(issuesOf(() => parseSpecText('- a\n- b\n')).issues[0]!.path).toBe('(root)');
    expect(issuesOf(() => parseSpecText('hello\n')).message).toMatch(/must be a mapping/);
  });

  it('a version newer than this ha-gen says to upgrade', () => {
    const { issues } = issuesOf(() => parseSpecText('version: 2\n'));
    expect(issues).toEqual([{ path: 'version', message: expect.stringMatching(/version 2 is newer.*upgrade ha-gen/) }]);
  });

  it('a version that is not a whole number is refused', () => {
    expect(issuesOf(() => parseSpecText('version: "1"\n')).issues[0]!.path).toBe('version');
    expect(issuesOf(() => parseSpecText('version: 1.5\n')).issues[0]!.path).toBe('version');
  });

  it('an older version with no migration is refused', () => {
    expect(issuesOf(() => parseSpecText('version: 0\n')).issues[0]!.message).toMatch(/version 0 cannot be read/);
  });

  it('a billion-laughs alias bomb is refused rather than expanded', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n');
    const { issues } = issuesOf(() => parseSpecText(bomb));
    expect(issues[0]!.message).toMatch(/alias/i);
  });
});

describe('unknown keys and wrong types from a file', () => {
  it('an unknown top-level key', () => {
    const { issues } = issuesOf(() => resolveSpec([{ source: 'file', values: parseSpecText('version: 1\nreplicas: 3\n') }]));
    expect(issues).toEqual([{ path: '(root)', message: expect.stringMatching(/unknown key "replicas".*ha-gen schema/) }]);
  });

  it('an unknown nested key names its parent', () => {
    const { issues } = issuesOf(() => resolveSpec([{ source: 'file', values: parseSpecText('loadBalancer:\n  kind: nginx\n  tsl: acme\n') }]));
    expect(issues[0]!.path).toBe('loadBalancer');
    expect(issues[0]!.message).toContain('"tsl"');
  });

  it('a wrong type names the key, the value and the expected type', () => {
    const { issues } = issuesOf(() => resolveSpec([{ source: 'file', values: parseSpecText('app:\n  replicas: two\ndatabase:\n  synchronous: "yes"\n') }]));
    expect(issues.map((i) => i.path).sort()).toEqual(['app.replicas', 'database.synchronous']);
    expect(issues.find((i) => i.path === 'app.replicas')!.message).toMatch(/"two".*expected number/);
    expect(issues.find((i) => i.path === 'database.synchronous')!.message).toMatch(/"yes".*expected boolean/);
  });

  it('a mapping where a list is expected', () => {
    const { issues } = issuesOf(() => resolveSpec([{ source: 'file', values: parseSpecText('hosts:\n  lb1: 10.0.0.1\n') }]));
    expect(issues[0]!.path).toBe('hosts');
    expect(issues[0]!.message).toMatch(/expected array/);
  });
});

describe('loadSpecFile', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

  it('a missing file is a usage error that says how to create one', async () => {
    const err = await loadSpecFile('/nonexistent/ha-gen.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as HaGenError).message).toMatch(/does not exist.*ha-gen init/);
  });

  it('reads and migrates a file', async () => {
    const d = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-load-'));
    dirs.push(d);
    await fs.writeFile(path.join(d, 'x.yaml'), 'version: 1\ntier: multi-server\n');
    expect(await loadSpecFile(path.join(d, 'x.yaml'))).toEqual({ version: 1, tier: 'multi-server' });
  });
});
