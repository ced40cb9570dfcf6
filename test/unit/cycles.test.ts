/**
 * No import cycles in src/ (madge, with the project's tsconfig so `./x.js` resolves to `./x.ts`).
 * Type-only imports count: `import type` between two layers is still a dependency between them.
 * The failure message lists every cycle, one per line, as a -> b -> a.
 *
 *   npx vitest run --project unit test/unit/cycles.test.ts
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import madge from 'madge';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const SRC = path.join(ROOT, 'src');

function tsFiles(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) return tsFiles(dir, r);
    return e.name.endsWith('.ts') ? [r] : [];
  });
}

describe('import graph of src/', () => {
  let graph: Awaited<ReturnType<typeof madge>>;
  beforeAll(async () => {
    graph = await madge(SRC, { baseDir: SRC, fileExtensions: ['ts'], tsConfig: path.join(ROOT, 'tsconfig.json') });
  }, 60_000);

  it('madge sees every module and resolves every import (so no cycle can hide behind an unresolved one)', () => {
    const seen = Object.keys(graph.obj()).sort();
    expect(seen).toEqual(tsFiles(SRC).sort());
    // Templates imported with ?raw are text, not modules (esbuild inlines them).
    const unresolved = graph.warnings().skipped.filter((s) => !/\.hbs\?raw$/.test(s) && !s.startsWith('node:'));
    expect(unresolved, `imports madge could not resolve:\n  ${unresolved.join('\n  ')}`).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles = graph.circular().map((c) => [...c, c[0]].join(' -> '));
    expect(cycles, `${cycles.length} import cycle(s) in src/:\n  ${cycles.join('\n  ')}\n`).toEqual([]);
  });
});
