// Bundles the CLI into minified ESM: dist/cli.js (the entry every run loads, a few KB) and
// dist/chunks/*.js, which each command imports when it runs (esbuild code splitting), so
// `--version` loads nothing and `generate` never loads the wizard, execa or the validators.
// Templates are precompiled here (the CLI ships only the Handlebars runtime). Also writes the JSON
// Schema of the spec to schema/ for editors.
import { build } from 'esbuild';
import Handlebars from 'handlebars';
import { readFile, writeFile, mkdir, readdir, stat, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { compileSpecParser, Unsupported } from './spec-fast.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));
const dist = resolve(root, 'dist');

const rawPlugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: resolve(args.resolveDir, args.path.replace(/\?raw$/, '')), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

async function listTemplates(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listTemplates(p)));
    else if (e.name.endsWith('.hbs')) out.push(p);
  }
  return out.sort();
}

/** The options templates.ts compiles with, read from its source so the two cannot drift apart. */
async function compileOptions() {
  const src = await readFile(resolve(root, 'src/render/templates.ts'), 'utf8');
  const m = /export const COMPILE_OPTIONS = (\{[^}]*\})/.exec(src);
  if (!m) throw new Error('scripts/build.mjs: COMPILE_OPTIONS not found in src/render/templates.ts');
  return JSON.parse(m[1].replace(/(\w+):/g, '"$1":'));
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
      const files = await listTemplates(resolve(root, 'templates'));
      const imports = [];
      const entries = [];
      for (const [i, f] of files.entries()) {
        // keyed by the text the targets import (the same module, so each source is bundled once)
        imports.push(`import t${i} from ${JSON.stringify(`${f}?raw`)};`);
        entries.push(`[t${i}, ${Handlebars.precompile(await readFile(f, 'utf8'), opts)}]`);
      }
      return { contents: `${imports.join('\n')}\nexport const PRECOMPILED = new Map([\n${entries.join(',\n')}\n]);\n`, loader: 'js', resolveDir: root, watchFiles: files };
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

// The spec schema with zod, as CommonJS so the ESM chunks can load it synchronously (resolveSpec is
// synchronous) on the paths that need zod: a spec the fast parser does not accept (zod then
// reports what is wrong), `init` and `schema`.
const specCjs = join(dist, 'chunks', 'spec-schema.cjs');
await build({
  entryPoints: [resolve(root, 'src/spec/schema.ts')],
  outfile: specCjs,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // HA_GEN_NO_MINIFY=1 keeps names readable in --cpu-prof profiles (docs/performance.md).
  minify: !process.env.HA_GEN_NO_MINIFY,
  legalComments: 'none',
  plugins: [rawPlugin],
  logLevel: 'warning',
});

/** A module value as JavaScript source, or undefined when it is not plain data (zod schemas, functions). */
function dataSource(v) {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return JSON.stringify(v);
  if (v instanceof RegExp) return v.toString();
  if (Array.isArray(v)) {
    const items = v.map(dataSource);
    return items.every((x) => x !== undefined) ? `[${items.join(', ')}]` : undefined;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const entries = Object.entries(v).map(([k, x]) => [k, dataSource(x)]);
    return entries.every(([, x]) => x !== undefined) ? `{${entries.map(([k, x]) => `${JSON.stringify(k)}: ${x}`).join(', ')}}` : undefined;
  }
  return undefined;
}

/**
 * What the CLI imports instead of src/spec/schema.ts: its data exports as literals, `specSchema`
 * whose safeParse() runs the generated parser first, and every other export forwarded to the zod
 * module above, loaded on first use.
 */
function specSchemaModule() {
  const mod = createRequire(import.meta.url)(specCjs);
  let parser;
  try {
    parser = compileSpecParser(mod.specSchema);
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    console.warn(`scripts/build.mjs: spec fast path disabled (${e.message}); every spec is checked by zod`);
    parser = 'const INVALID = Symbol("invalid spec");\nconst parseSpecFast = () => INVALID;';
  }
  const lines = [
    "import { createRequire } from 'node:module';",
    'let real;',
    "const zod = () => (real ??= createRequire(import.meta.url)(/\\/chunks\\/[^/]*$/.test(import.meta.url) ? './spec-schema.cjs' : './chunks/spec-schema.cjs'));",
    parser,
    'const safeParse = (input, params) => {',
    '  if (params === undefined) {',
    '    const data = parseSpecFast(input);',
    '    if (data !== INVALID) return { success: true, data };',
    '  }',
    '  return zod().specSchema.safeParse(input, params);',
    '};',
    'const parse = (input, params) => (params === undefined && (input = parseSpecFast(input)) !== INVALID ? input : zod().specSchema.parse(input, params));',
    "const forward = (name, target) => new Proxy(target, { get: (_, p) => { const o = zod()[name]; const v = Reflect.get(o, p, o); return typeof v === 'function' ? v.bind(o) : v; }, has: (_, p) => p in zod()[name], apply: (_, self, args) => Reflect.apply(zod()[name], self, args), construct: (_, args) => Reflect.construct(zod()[name], args) });",
  ];
  for (const [name, value] of Object.entries(mod)) {
    if (name === 'specSchema') {
      lines.push("export const specSchema = new Proxy({}, { get: (_, p) => (p === 'safeParse' ? safeParse : p === 'parse' ? parse : Reflect.get(zod().specSchema, p, zod().specSchema)), has: (_, p) => p in zod().specSchema });");
      continue;
    }
    const src = dataSource(value);
    if (src !== undefined) lines.push(`export const ${name} = ${src};`);
    else lines.push(`export const ${name} = forward(${JSON.stringify(name)}, ${typeof value === 'function' ? 'function () {}' : '{}'});`);
  }
  return lines.join('\n');
}

const specPlugin = {
  name: 'spec-schema',
  setup(b) {
    b.onResolve({ filter: /\/schema\.js$/ }, (args) => {
      const p = resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
      return p === resolve(root, 'src/spec/schema.ts') ? { path: p, namespace: 'spec-schema' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'spec-schema' }, () => ({ contents: specSchemaModule(), loader: 'js', resolveDir: resolve(root, 'src/spec') }));
  },
};

// main.ts loads src/fast-generate.ts as dist/generate.js and src/check-fast.ts as dist/check.js,
// each built on its own below.
const fastGeneratePlugin = {
  name: 'fast-generate',
  setup(b) {
    b.onResolve({ filter: /\/fast-generate\.js$/ }, (args) => (args.importer === resolve(root, 'src/main.ts') ? { path: './generate.js', external: true } : undefined));
    b.onResolve({ filter: /\/check-fast\.js$/ }, (args) => (args.importer === resolve(root, 'src/main.ts') ? { path: './check.js', external: true } : undefined));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // HA_GEN_NO_MINIFY=1 keeps names readable in --cpu-prof profiles (docs/performance.md).
  minify: !process.env.HA_GEN_NO_MINIFY,
  legalComments: 'none',
  metafile: true,
  define: { __HA_GEN_VERSION__: JSON.stringify(pkg.version) },
  // CommonJS dependencies (handlebars) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __haGenRequire } from 'node:module'; const require = __haGenRequire(import.meta.url);" },
  logLevel: 'warning',
};

const result = await build({
  ...common,
  entryPoints: [{ in: resolve(root, 'src/main.ts'), out: 'cli' }],
  outdir: dist,
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  plugins: [rawPlugin, templatesPlugin, specPlugin, fastGeneratePlugin],
});
await build({
  ...common,
  entryPoints: [resolve(root, 'src/fast-generate.ts')],
  outfile: join(dist, 'generate.js'),
  plugins: [rawPlugin, templatesPlugin, specPlugin],
});
// Node built-ins only: no require() banner, nothing to link.
await build({ ...common, banner: {}, entryPoints: [resolve(root, 'src/check-fast.ts')], outfile: join(dist, 'check.js') });

// Chunks of earlier builds: removed once they are a minute old (a CLI started just before this
// build may still import its chunks; the names are content hashes, so an unchanged chunk stays),
// and at once when npm builds the package (prepare/prepack), so a packed tarball holds no stale ones.
const grace = ['prepare', 'prepack'].includes(process.env.npm_lifecycle_event ?? '') ? 0 : 60_000;
const current = new Set([specCjs, join(dist, 'generate.js'), join(dist, 'check.js'), ...Object.keys(result.metafile.outputs).map((p) => resolve(root, p))]);
const chunkDir = join(dist, 'chunks');
for (const name of await readdir(chunkDir).catch(() => [])) {
  const p = join(chunkDir, name);
  if (current.has(p)) continue;
  const st = await stat(p).catch(() => null);
  if (st && Date.now() - st.mtimeMs >= grace) await rm(p, { force: true });
}
if (process.env.HA_GEN_BUILD_META) await writeFile(process.env.HA_GEN_BUILD_META, JSON.stringify(result.metafile));

// The schema file for editors (the yaml-language-server comment in ha-gen.yaml points at it).
const schema = execFileSync(process.execPath, [resolve(root, 'dist/cli.js'), 'schema'], { encoding: 'utf8' });
await mkdir(resolve(root, 'schema'), { recursive: true });
await writeFile(resolve(root, 'schema/ha-gen.schema.json'), schema);
