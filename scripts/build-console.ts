// `npm run build:console` (and `npm start`, before the server): bundles the console
// (console/src, TypeScript + Preact) with esbuild into dist/public/console/ — index.html,
// main.js, main.css and their source maps — which every node serves at `/`. Cached: a build whose
// inputs (the console's files and package-lock.json) hash the same as the last one is skipped.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const sourceDir = path.join(root, 'console');
export const CONSOLE_OUT_DIR = path.join(root, 'dist', 'public', 'console');
const STAMP = '.build-hash';

function inputsHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else hash.update(path.relative(root, file)).update('\0').update(fs.readFileSync(file));
    }
  };
  walk(sourceDir);
  hash.update(fs.readFileSync(path.join(root, 'package-lock.json')));
  return hash.digest('hex');
}

export interface ConsoleBuild {
  outDir: string;
  /** False when the cached build was still current. */
  built: boolean;
  /** Bytes of main.js and main.css as served (before compression). */
  bytes: { js: number; css: number };
}

export async function buildConsole(opts: { outDir?: string; force?: boolean } = {}): Promise<ConsoleBuild> {
  const outDir = opts.outDir ?? CONSOLE_OUT_DIR;
  const hash = inputsHash();
  const stampFile = path.join(outDir, STAMP);
  const sizes = () => ({ js: fs.statSync(path.join(outDir, 'main.js')).size, css: fs.statSync(path.join(outDir, 'main.css')).size });
  if (!opts.force && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === hash) return { outDir, built: false, bytes: sizes() };
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(sourceDir, 'src', 'main.tsx')],
    outdir: outDir,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    minify: true,
    sourcemap: 'linked',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: path.join(sourceDir, 'tsconfig.json'),
    legalComments: 'linked',
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(sourceDir, 'index.html'), path.join(outDir, 'index.html'));
  fs.writeFileSync(stampFile, hash);
  return { outDir, built: true, bytes: sizes() };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const result = await buildConsole({ force: process.argv.includes('--force') });
    const kb = (n: number) => `${(n / 1024).toFixed(0)} kB`;
    process.stdout.write(
      `${result.built ? 'built' : 'console up to date:'} ${path.relative(root, result.outDir)}/ (main.js ${kb(result.bytes.js)}, main.css ${kb(result.bytes.css)})\n`,
    );
  } catch (err) {
    process.stderr.write(`console build failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
