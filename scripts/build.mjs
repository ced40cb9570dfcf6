// Bundles the CLI into minified ESM: dist/cli.js (the entry every run loads, a few KB) and
// dist/chunks/*.js, which each command imports when it runs (esbuild code splitting), so
// `--version` loads nothing and `generate` never loads the wizard, execa or the validators.
// Templates are precompiled here (the CLI ships only the Handlebars runtime). Also writes the JSON
// Schema of the spec to schema/ for editors.
import { build } from 'esbuild';
import Handlebars from 'handlebars';
import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdir, readdir, stat, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));
const dist = resolve(root, 'dist');

const templateId = (file) => `template:${file.slice(root.length + 1)}`;

const rawPlugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: resolve(args.resolveDir, args.path.replace(/\?raw$/, '')), namespace: 'raw' }));
    // A template's text is only a key into the precompiled map (templates.ts): its path stands for it.
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (args) => ({ contents: args.path.endsWith('.hbs') ? templateId(args.path) : await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

/**
 * `import { z } from 'zod'` in src/ gets a `z` of only the zod exports src/ names as `z.X`. zod's
 * own `z` is a namespace object of every export (40-odd locales, JSON Schema import, ...), all of
 * which V8 would compile on every run that checks a spec; named imports let esbuild leave out
 * what is unused (zod's bundled size 465 KB -> 115 KB). Other named imports pass through.
 */
const zodPlugin = {
  name: 'zod-used',
  setup(b) {
    b.onResolve({ filter: /^zod$/ }, (args) => (args.importer.startsWith(join(root, 'src')) ? { path: 'zod', namespace: 'zod-used' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'zod-used' }, async () => {
      const zod = await import('zod');
      const used = new Set();
      for (const f of await listFiles(resolve(root, 'src'), '.ts')) for (const m of (await readFile(f, 'utf8')).matchAll(/\bz\.([A-Za-z_$][\w$]*)/g)) used.add(m[1]);
      const names = [...used].filter((n) => n in zod).sort(); // not type-only names such as z.infer
      const contents = [
        `import { ${names.map((n, i) => `${n} as z${i}`).join(', ')} } from 'zod';`,
        `export const z = { ${names.map((n, i) => `${n}: z${i}`).join(', ')} };`,
        "export * from 'zod';",
      ];
      return { contents: contents.join('\n'), loader: 'js', resolveDir: root };
    });
  },
};

async function listFiles(dir, ext) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, ext)));
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

/** The options templates.ts compiles with (its registered helpers known), read from its source so the two cannot drift apart. */
async function compileOptions() {
  const src = await readFile(resolve(root, 'src/render/templates.ts'), 'utf8');
  const m = /export const COMPILE_OPTIONS = (\{[^}]*\})/.exec(src);
  if (!m) throw new Error('scripts/build.mjs: COMPILE_OPTIONS not found in src/render/templates.ts');
  const helpers = [...src.matchAll(/hb\.registerHelper\('(\w+)'/g)].map((h) => [h[1], true]);
  return { ...JSON.parse(m[1].replace(/(\w+):/g, '"$1":')), knownHelpers: Object.fromEntries(helpers) };
}

/**
 * src/render/precompiled.ts becomes a map of every template's source to Handlebars.precompile()
 * output, and templates.ts gets the runtime-only Handlebars (no parser, no compiler).
 */
const templatesPlugin = {
  name: 'precompiled-templates',
  setup(b) {
    b.onResolve({ filter: /\/precompiled\.js$/ }, (args) => {
      const p = resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
      return p === resolve(root, 'src/render/precompiled.ts') ? { path: p, namespace: 'precompiled' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'precompiled' }, async () => {
      const opts = await compileOptions();
      const files = await listFiles(resolve(root, 'templates'), '.hbs');
      // keyed by what the targets' `?raw` imports stand for in the build (templateId)
      const entries = [];
      for (const f of files) entries.push(`[${JSON.stringify(templateId(f))}, ${Handlebars.precompile(await readFile(f, 'utf8'), opts)}]`);
      return { contents: `export const PRECOMPILED = new Map([\n${entries.join(',\n')}\n]);\n`, loader: 'js', resolveDir: root, watchFiles: files };
    });
    // yaml's ESM build (its "default" export condition): no CommonJS wrappers to compile at start-up.
    // It differs from the node build only in printing YAML warnings with console.warn.
    b.onResolve({ filter: /^yaml$/ }, async (args) => {
      const r = await b.resolve('yaml/package.json', { resolveDir: args.resolveDir, kind: args.kind });
      return { path: join(dirname(r.path), 'browser/index.js') };
    });
    b.onResolve({ filter: /^handlebars$/ }, async (args) => {
      if (args.importer !== resolve(root, 'src/render/templates.ts')) return undefined;
      const r = await b.resolve('handlebars/runtime', { resolveDir: args.resolveDir, kind: args.kind });
      return { path: r.path };
    });
  },
};

// Stands for the build id until the build is done (write/render-cache.ts).
const BUILD_ID_PLACEHOLDER = `ha-gen-build-id-${'0'.repeat(48)}`;

const result = await build({
  entryPoints: [{ in: resolve(root, 'src/main.ts'), out: 'cli' }],
  outdir: dist,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // HA_GEN_NO_MINIFY=1 keeps names readable in --cpu-prof profiles (docs/performance.md).
  minify: !process.env.HA_GEN_NO_MINIFY,
  legalComments: 'none',
  metafile: true,
  write: false,
  define: { __HA_GEN_VERSION__: JSON.stringify(pkg.version), __HA_GEN_BUILD_ID__: JSON.stringify(BUILD_ID_PLACEHOLDER) },
  // CommonJS dependencies (handlebars, commander) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __haGenRequire } from 'node:module'; const require = __haGenRequire(import.meta.url);" },
  plugins: [rawPlugin, templatesPlugin, zodPlugin],
  logLevel: 'warning',
});
// The render cache is keyed by the code that renders: the sha256 of every output file, written
// where the placeholder stands.
const outputs = result.outputFiles.toSorted((a, b) => (a.path < b.path ? -1 : 1));
const buildId = outputs.reduce((h, f) => h.update(f.path.slice(dist.length)).update('\0').update(f.contents), createHash('sha256')).digest('hex');
await mkdir(join(dist, 'chunks'), { recursive: true });
for (const f of outputs) await writeFile(f.path, f.text.replaceAll(BUILD_ID_PLACEHOLDER, buildId));

// Files of earlier builds: removed once they are a minute old (a CLI started just before this
// build may still import its chunks; the names are content hashes, so an unchanged chunk stays),
// and at once when npm builds the package (prepare/prepack), so a packed tarball holds no stale ones.
const grace = ['prepare', 'prepack'].includes(process.env.npm_lifecycle_event ?? '') ? 0 : 60_000;
const current = new Set(outputs.map((f) => f.path));
for (const dir of [dist, join(dist, 'chunks')]) {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (!e.isFile() || e.name.startsWith('.') || current.has(p)) continue;
    const st = await stat(p).catch(() => null);
    if (st && Date.now() - st.mtimeMs >= grace) await rm(p, { force: true });
  }
}
if (process.env.HA_GEN_BUILD_META) await writeFile(process.env.HA_GEN_BUILD_META, JSON.stringify(result.metafile));

// The schema file for editors (the yaml-language-server comment in ha-gen.yaml points at it).
const schema = execFileSync(process.execPath, [resolve(root, 'dist/cli.js'), 'schema'], { encoding: 'utf8' });
await mkdir(resolve(root, 'schema'), { recursive: true });
await writeFile(resolve(root, 'schema/ha-gen.schema.json'), schema);
