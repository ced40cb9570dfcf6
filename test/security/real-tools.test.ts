/**
 * Accepted edge values, checked by the real tools: a bundle whose every string field holds an
 * unusual but valid value (SQL keyword as a role, '.', '_', '-', '~', '=', ',', '@', ':' in paths,
 * images and env values) passes `ha-gen validate` wherever the same bundle with plain values does.
 * Bounded: two bundles per base. Skips loudly without the tools; fails with HA_GEN_REQUIRE_TOOLS=1.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, runCli, tempDir } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';

const tools = skipUnlessTool(['nginx', 'haproxy', 'shellcheck', 'yamllint', 'docker-compose'], 'real-tool check of edge values');

const plain = { version: 1, name: 'plain', loadBalancer: { kind: 'nginx', tls: 'files' }, domain: 'shop.example.com' };
const edge = {
  version: 1,
  name: 'select-9',
  domain: 'x-1.a0.example',
  app: {
    image: 'registry.local:5000/a__b/c-d.e:Tag_1.0-rc',
    healthPath: '/~a._-/b/',
    uploadsPath: '/srv/.up_-load',
    dataPath: '/d/a.t-a_',
    maxBodySize: '999999k',
    env: { X_1: 'a=b,c:@/+.-', RUST_LOG: '' },
  },
  loadBalancer: { kind: 'nginx', tls: 'files', certFile: '/etc/ssl/a.b-c_d/x.pem', keyFile: '/etc/ssl/-k/._k' },
  database: { name: 'select', user: '_user9' },
};

interface Result { file: string; tool: string; status: string; message?: string }

async function validate(spec: object): Promise<Result[]> {
  const dir = await tempDir('i7-tools');
  await fs.writeFile(path.join(dir, 'ha-gen.yaml'), stringify(spec));
  const g = await runCli(['generate'], { cwd: dir });
  expect(g.code, g.output).toBe(0);
  const v = await runCli(['validate', 'ha-bundle', '--json'], { cwd: dir, timeoutMs: 300_000 });
  return (JSON.parse(v.stdout) as { results: Result[] }).results;
}

describe.skipIf(tools.skip)('edge values through the real tools', () => {
  afterAll(cleanupTempDirs);

  it.each([
    ['nginx', 'nginx'],
    ['haproxy', 'haproxy'],
  ])('%s bundle: no check fails with edge values that passes with plain ones', async (_n, kind) => {
    const [base, hard] = await Promise.all([validate({ ...plain, loadBalancer: { ...plain.loadBalancer, kind } }), validate({ ...edge, loadBalancer: { ...edge.loadBalancer, kind } })]);
    const failedBase = new Set(base.filter((r) => r.status === 'failed').map((r) => `${r.tool} ${r.file.replace('plain', 'N')}`));
    if (failedBase.size) console.warn(`\n*** the plain bundle itself fails ${[...failedBase].join(', ')} (not an injection finding; see the owner of that target) ***\n`);
    const newFailures = hard.filter((r) => r.status === 'failed' && !failedBase.has(`${r.tool} ${r.file.replace('select-9', 'N')}`));
    expect(newFailures.map((r) => `${r.tool} ${r.file}: ${r.message?.slice(0, 300)}`)).toEqual([]);
    expect(hard.filter((r) => r.status === 'passed').length).toBeGreaterThan(3);
  }, 300_000);
});
