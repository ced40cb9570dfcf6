// Bundles the CLI into one minified ESM file (dist/cli.js) with templates inlined as text,
// and writes the JSON Schema of the spec to schema/ for editors.
import { build } from 'esbuild';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));

const rawPlugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: resolve(args.resolveDir, args.path.replace(/\?raw$/, '')), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

await build({
  entryPoints: [resolve(root, 'src/main.ts')],
  outfile: resolve(root, 'dist/cli.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  splitting: false,
  legalComments: 'none',
  define: { __HA_GEN_VERSION__: JSON.stringify(pkg.version) },
  // CommonJS dependencies (handlebars) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __haGenRequire } from 'node:module'; const require = __haGenRequire(import.meta.url);" },
  plugins: [rawPlugin],
  logLevel: 'warning',
});

// The schema file for editors (the yaml-language-server comment in ha-gen.yaml points at it).
const schema = execFileSync(process.execPath, [resolve(root, 'dist/cli.js'), 'schema'], { encoding: 'utf8' });
await mkdir(resolve(root, 'schema'), { recursive: true });
await writeFile(resolve(root, 'schema/ha-gen.schema.json'), schema);
