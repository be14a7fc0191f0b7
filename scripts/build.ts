// `npm run build`: what runs in production, compiled into dist/ — the server and CLIs (dist/src),
// the migrations and seeds (dist/migrations, dist/seeds; the migration loader takes their .js
// files), the knexfile — and the non-TypeScript files the server serves, copied into dist/public/.
// dist/ is emptied first, so a migration deleted from the sources cannot linger in a build.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsole } from './build-console.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = path.join(root, 'dist');

// ─── Assets copied into the build ─────────────────────────────────────────────────────────────
// Each: a file resolved like an import from the repository root (a package's own file), and
// where it lands under dist/. The compiled server reads them from there: production installs
// have no devDependencies, which is where these files come from.
export const ASSETS: { from: string; to: string }[] = [
  // The API reference page at /docs (Redoc's self-contained bundle, no CDN) and its licence.
  { from: 'redoc/bundles/redoc.standalone.js', to: 'public/redoc.standalone.js' },
  { from: 'redoc/bundles/redoc.standalone.js.LICENSE.txt', to: 'public/redoc.standalone.js.LICENSE.txt' },
];
// ──────────────────────────────────────────────────────────────────────────────────────────────

async function build(): Promise<void> {
  fs.rmSync(outDir, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (compiled.status !== 0) throw new Error(`tsc failed (exit ${compiled.status ?? compiled.signal})`);
  const resolveFromRoot = createRequire(path.join(root, 'package.json'));
  for (const asset of ASSETS) {
    const target = path.join(outDir, asset.to);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(resolveFromRoot.resolve(asset.from), target);
  }
  // The console at `/`, into dist/public/console/ (emptied with dist/, so built afresh).
  const bundle = await buildConsole({ force: true });
  process.stdout.write(`built ${path.relative(root, outDir)}/ (${ASSETS.length} assets copied, the console in ${path.relative(root, bundle.outDir)}/)\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await build();
  } catch (err) {
    process.stderr.write(`build failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
