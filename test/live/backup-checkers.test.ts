/**
 * The checkers of the operating files find real mistakes: pgBackRest rejects an unknown option or a
 * bad value in pgbackrest.conf; esbuild and tsc (with @types/k6) reject a broken k6 script. A part
 * whose program or package is absent is skipped with a warning naming it (describe.skipIf), and fails
 * instead under HA_GEN_REQUIRE_TOOLS=1; it never passes without running the checker.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { render } from '../../src/render/index.js';
import { specSchema } from '../../src/spec/schema.js';
import type { CheckEnv } from '../../src/validate/checkers.js';
import { k6Checker, pgbackrestChecker } from '../../src/validate/ops-checkers.js';
import { skipUnlessPackage, skipUnlessTool } from '../helpers/tools.js';

let dir: string;
let env: CheckEnv;
const bundle = render(specSchema.parse({ version: 1, name: 'chk' }), { version: 'test', specFile: 'ha-gen.yaml' });
const original = (p: string) => bundle.files.get(p)!.contents;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-opscheck-'));
  await fs.mkdir(path.join(dir, 'tmp'));
  env = { bundleDir: dir, tmp: path.join(dir, 'tmp'), sandbox: undefined as never, manifest: { secrets: [] } as never, shared: new Map() };
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

async function put(rel: string, text: string): Promise<string> {
  await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  await fs.writeFile(path.join(dir, rel), text);
  return rel;
}

describe.skipIf(skipUnlessTool(['pgbackrest'], 'pgbackrest.conf checker').skip)('pgbackrest.conf checker', () => {
  const check = { tool: 'pgbackrest' as const, stanza: 'chk' };
  it('passes the generated file', async () => {
    const r = await pgbackrestChecker.run(env, await put('ok/pgbackrest.conf', original('backup/pgbackrest.conf')), check);
    expect(r.message).toMatch(/valid/);
    expect(r.ok).toBe(true);
  });
  it('fails an unknown option', async () => {
    const r = await pgbackrestChecker.run(env, await put('bad1/pgbackrest.conf', original('backup/pgbackrest.conf').replace('start-fast=y', 'start-fast=y\nstart-fastest=y')), check);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/invalid option 'start-fastest'/);
  });
  it('fails a bad value', async () => {
    const r = await pgbackrestChecker.run(env, await put('bad2/pgbackrest.conf', original('backup/pgbackrest.conf').replace('start-fast=y', 'start-fast=maybe')), check);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/start-fast/);
  });
});

// The k6 checker runs no k6 binary: esbuild (syntax, imports) and tsc with @types/k6 (the API), from
// node_modules. Absent: skipped loudly, or a failure under HA_GEN_REQUIRE_TOOLS=1.
const K6_PACKAGES = ['esbuild', 'typescript', '@types/k6'];

describe.skipIf(skipUnlessPackage(K6_PACKAGES, 'k6 script checker').skip)('k6 script checker', () => {
  it('passes the generated script', async () => {
    const r = await k6Checker.run(env, await put('k6ok/k6.js', original('loadtest/k6.js')), { tool: 'k6' });
    expect(r.skipped, `the checker skipped although ${K6_PACKAGES.join(', ')} resolve: ${r.message}`).toBeFalsy();
    expect(r.ok, r.message).toBe(true);
  }, 60_000);
  it('fails a misspelled k6 API and a missing import', async () => {
    const typo = await k6Checker.run(env, await put('k6bad/k6.js', original('loadtest/k6.js').replace('http.get(', 'http.gett(')), { tool: 'k6' });
    expect(typo.skipped, typo.message).toBeFalsy();
    expect(typo.ok).toBe(false);
    expect(typo.message).toMatch(/gett/);
    const missing = await k6Checker.run(env, await put('k6bad2/k6.js', `import { x } from './nope.js';\n${original('loadtest/k6.js')}`), { tool: 'k6' });
    expect(missing.skipped, missing.message).toBeFalsy();
    expect(missing.ok).toBe(false);
    expect(missing.message).toMatch(/esbuild.*nope/s);
  }, 90_000);
});
