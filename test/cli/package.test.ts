/** What `npm publish` would ship: the built CLI and everything it imports, nothing else. */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());

describe('the package', () => {
  it('ships bin/, every file of dist/ (cli.js and the chunks it imports), the schema and README; no sources or tests', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const files = new Set((JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
    const dist = readdirSync(path.join(ROOT, 'dist'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
    for (const f of ['bin/ha-gen.js', 'dist/cli.js', 'schema/ha-gen.schema.json', 'README.md', 'package.json', ...dist]) expect(files.has(f), f).toBe(true);
    expect([...files].filter((f) => /^(src|test|scripts|templates)\//.test(f))).toEqual([]);
  });
});
