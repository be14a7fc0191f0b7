// The console at `/`: the single page bundled by scripts/build-console.ts into
// dist/public/console/, served by every node from the same origin as the API. Its policy lets the
// page run this origin's script and style and talk to this origin only (REST, Socket.IO and the
// co-editing WebSocket): no inline script or style, no other host, no framing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { NotFound, ServiceUnavailable } from '../errors.js';
import { documentedRouter, type DocumentedRouter } from './openapi.js';

export const CONSOLE_ASSETS_PATH = '/console';

/**
 * Where the built console is: dist/public/console/ beside the compiled server (this file is then
 * dist/src/platform/http/console.js), else the checkout's dist/public/console/ (running from source,
 * after `npm run build:console`, which `npm start` runs first). Undefined when neither is built.
 */
export function consoleDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [path.resolve(here, '../../../public/console'), path.resolve(here, '../../../dist/public/console')]) {
    if (existsSync(path.join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  // REST, Socket.IO and /collab: 'self' covers ws: and wss: of this origin.
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** GET / (the page) and GET /console/:file (its script, style and source maps). */
export function consoleRoutes(opts: { dir?: string } = {}): DocumentedRouter {
  const api = documentedRouter('', 'console', 'The browser console served by every node.', '');
  const given = opts.dir ?? consoleDir();
  const dir = given && existsSync(path.join(given, 'index.html')) ? given : undefined;
  // What the build wrote, read once: a request names one of these or gets a 404.
  const files = new Set(dir ? readdirSync(dir).filter((f) => !f.startsWith('.') && f !== 'index.html') : []);
  const page = dir ? readFileSync(path.join(dir, 'index.html'), 'utf8') : undefined;
  api.op(
    'get',
    '/',
    {
      operationId: 'getConsole',
      summary: 'The console',
      description:
        'The single-page console (sign in, status board, catalog, co-editing, dashboards), built from `console/` in the repository. A 503 on a node whose console was not built (`npm run build:console`).',
      response: z.string(),
      envelope: false,
      contentType: 'text/html',
      public: true,
      errors: [503],
    },
    (_req, res, next) => {
      if (!page) {
        next(ServiceUnavailable('The console is not built on this node: run `npm run build:console` (npm start does it).'));
        return;
      }
      res.set('Content-Security-Policy', CONSOLE_CSP);
      res.set('Cache-Control', 'no-cache');
      res.type('html').send(page);
    },
  );
  api.op(
    'get',
    `${CONSOLE_ASSETS_PATH}/:file`,
    {
      operationId: 'getConsoleAsset',
      summary: "The console's script, style and source maps",
      description: 'One file of the built console (`main.js`, `main.css`, their `.map`s); 404 for any other name.',
      response: z.string(),
      envelope: false,
      contentType: 'application/javascript',
      public: true,
      errors: [404],
    },
    (req, res, next) => {
      const file = String(req.params.file);
      if (!dir || !files.has(file)) {
        next(NotFound(`No console file named ${file}.`));
        return;
      }
      // Revalidated on every load (ETag), so a node upgraded under an open page serves the new bundle.
      res.sendFile(path.join(dir, file), { maxAge: 0, headers: { 'Cache-Control': 'no-cache' } });
    },
  );
  return api;
}
