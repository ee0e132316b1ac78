// Builds the web page into dist/web/: main.ts bundled by esbuild (type-checked first by
// `tsc -p src/web/tsconfig.json` in `npm run build:web`), plus index.html and style.css.
// Usage: node src/web/build.mjs [OUT_DIR]
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '..', '..', 'dist', 'web'));
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'main.ts')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) copyFileSync(join(here, f), join(out, f));
console.log(`web page built in ${out}`);
