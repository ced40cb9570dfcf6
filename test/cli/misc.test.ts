/** schema, --help, --version, colour, stack traces. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, ensureBuilt, ROOT, runCli, tempDir } from '../helpers/cli.js';

const ESC = '\x1b';
beforeAll(() => ensureBuilt());
afterAll(() => cleanupTempDirs());

describe('ha-gen schema', () => {
  it('prints the JSON Schema of the spec file', async () => {
    const r = await runCli(['schema']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { $schema: string; type: string; properties: Record<string, { description?: string; enum?: string[]; properties?: Record<string, { enum?: string[]; description?: string }> }>; additionalProperties: boolean };
    expect(s.$schema).toMatch(/json-schema\.org/);
    expect(s.type).toBe('object');
    expect(s.additionalProperties).toBe(false);
    for (const k of ['version', 'name', 'tier', 'platform', 'app', 'loadBalancer', 'database', 'hosts']) expect(s.properties[k], k).toBeDefined();
    expect(s.properties.tier!.enum).toEqual(['single-server', 'multi-server', 'multi-region']);
    expect(s.properties.loadBalancer!.properties!.kind!.enum).toEqual(['nginx', 'haproxy', 'caddy']);
    expect(s.properties.loadBalancer!.properties!.kind!.description).toBeTruthy();
  });

  it('matches the schema file shipped in the package (the spec file comment points at it)', async () => {
    const r = await runCli(['schema']);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(path.join(ROOT, 'schema/ha-gen.schema.json'), 'utf8')));
  });
});

describe('--help and --version', () => {
  it.each([[[]], [['init']], [['generate']], [['validate']], [['schema']]])('%j --help shows usage and an example', async (cmd) => {
    const r = await runCli([...cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: ha-gen/m);
    expect(r.stdout).toMatch(/Examples:\n\s+\$ (npx )?ha-gen/);
  });

  it('init --help lists every contract flag', async () => {
    const r = await runCli(['init', '--help']);
    for (const f of ['--tier', '--platform', '--lb', '--db', '--storage', '--app-image', '--app-port', '--health-path', '--app-replicas', '--domain', '--tls', '--name', '--force', '--yes', '--config', '--out']) expect(r.stdout).toContain(f);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});

describe('validate with tools absent', () => {
  it('reports absent tools as skipped (exit 0, with a warning), and as failed under HA_GEN_REQUIRE_TOOLS=1 (exit 1)', async () => {
    const dir = await tempDir('notools');
    expect((await runCli(['init', '--yes'], { cwd: dir })).code).toBe(0);
    // node is run by absolute path; with an empty PATH no checker program is found
    const env = { PATH: '/nonexistent', NO_COLOR: '1' };
    const lax = await runCli(['validate', '--json'], { cwd: dir, env: { ...env, HA_GEN_REQUIRE_TOOLS: undefined } });
    expect(lax.code, lax.stderr).toBe(0);
    const a = JSON.parse(lax.stdout) as { requireTools: boolean; skipped: number; failed: number; results: Array<{ file: string; tool: string; status: string; message: string }> };
    expect(a.requireTools).toBe(false);
    expect(a.failed).toBe(0);
    const compose = a.results.find((r) => r.file === 'docker-compose.yml' && r.tool === 'compose')!;
    expect(compose.status).toBe('skipped');
    expect(compose.message).toMatch(/docker-compose not installed.*apt-get install docker-compose/);
    const human = await runCli(['validate'], { cwd: dir, env: { ...env, HA_GEN_REQUIRE_TOOLS: undefined } });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^- skipped compose\s+docker-compose\.yml/m);
    expect(human.stderr).toMatch(/skipped because a tool is missing; HA_GEN_REQUIRE_TOOLS=1/);
    const strict = await runCli(['validate', '--json'], { cwd: dir, env: { ...env, HA_GEN_REQUIRE_TOOLS: '1' } });
    expect(strict.code).toBe(1);
    const b = JSON.parse(strict.stdout) as typeof a;
    expect(b.skipped).toBe(0);
    expect(b.results.find((r) => r.file === 'docker-compose.yml' && r.tool === 'compose')!.status).toBe('failed');
  });
});

describe('colour and errors', () => {
  it('NO_COLOR: no escape characters, even when FORCE_COLOR asks for colour', async () => {
    const dir = await tempDir('nocolor');
    for (const args of [['init', '--yes'], ['generate', '--check'], ['init', '--yes', '--app-port', '0', '--force'], ['validate', 'missing']]) {
      const r = await runCli(args, { cwd: dir, env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
      expect(r.output, args.join(' ')).not.toContain(ESC);
    }
  });

  it('no colour when output is not a terminal', async () => {
    const dir = await tempDir('pipe');
    const r = await runCli(['init', '--yes', '--app-port', '0'], { cwd: dir, env: { NO_COLOR: undefined } });
    expect(r.code).toBe(2);
    expect(r.output).not.toContain(ESC);
  });

  it('FORCE_COLOR without NO_COLOR does colour (so the tests above can fail)', async () => {
    const dir = await tempDir('color');
    const r = await runCli(['init', '--yes', '--app-port', '0'], { cwd: dir, env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(ESC);
  });

  it('user errors print no stack trace', async () => {
    const dir = await tempDir('stack');
    for (const args of [['generate'], ['init', '--yes', '--lb', 'apache'], ['validate', 'nowhere'], ['generate', '--config', '/nonexistent/x.yaml']]) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.output).not.toMatch(/\n\s+at .+:\d+:\d+/);
      expect(r.output).not.toMatch(/unexpected error/);
    }
  });
});
