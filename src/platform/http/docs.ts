// The API reference at /docs: Redoc's standalone bundle, served by the node itself (no CDN), over
// the node's own /api/v1/openapi.json. The page has no inline script: the bundle finds the
// <redoc spec-url> element itself; its CSP allows scripts from this origin only.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { NotFound } from '../errors.js';
import { documentedRouter, type DocumentedRouter } from './openapi.js';

export const DOCS_PATH = '/docs';
export const REDOC_BUNDLE_PATH = `${DOCS_PATH}/redoc.standalone.js`;

/**
 * Where Redoc's standalone bundle is on disk: in the build's `dist/public/` (scripts/build.ts copies
 * it there; this file is then dist/src/platform/http/docs.js), else the redoc package in
 * node_modules (running from source). Undefined when neither is there.
 */
export function redocBundleFile(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const copied = path.resolve(here, '../../../public/redoc.standalone.js');
  if (existsSync(copied)) return copied;
  try {
    const require = createRequire(import.meta.url);
    return path.join(path.dirname(require.resolve('redoc/package.json')), 'bundles', 'redoc.standalone.js');
  } catch {
    return undefined;
  }
}

/** The page's own policy, in place of the API's `default-src 'none'`: this origin's script, Redoc's styles and search worker. */
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // Redoc renders with styled-components, which writes <style> elements it cannot give a nonce.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  // The search index runs in a worker built from a blob.
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function page(specUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AppInventory Live API reference</title>
</head>
<body>
<redoc spec-url="${specUrl}"></redoc>
<script src="${REDOC_BUNDLE_PATH}"></script>
</body>
</html>
`;
}

/** GET /docs (the page) and the bundle it loads, at the server root. */
export function docsRoutes(opts: { specUrl: string; bundleFile?: string }): DocumentedRouter {
  const api = documentedRouter('', 'docs', 'The API documents and their reference page.', '');
  const bundle = opts.bundleFile ?? redocBundleFile();
  const html = page(opts.specUrl);
  api.op(
    'get',
    DOCS_PATH,
    {
      operationId: 'getApiReference',
      summary: 'The API reference page',
      description: 'This document rendered by Redoc, served by the node itself (no CDN).',
      response: z.string(),
      envelope: false,
      contentType: 'text/html',
      public: true,
    },
    (_req, res) => {
      res.set('Content-Security-Policy', DOCS_CSP);
      res.type('html').send(html);
    },
  );
  api.op(
    'get',
    REDOC_BUNDLE_PATH,
    {
      operationId: 'getApiReferenceBundle',
      summary: "The reference page's script",
      description: "Redoc's standalone bundle (404 on a node built without it).",
      response: z.string(),
      envelope: false,
      contentType: 'application/javascript',
      public: true,
      errors: [404],
    },
    (_req, res, next) => {
      if (!bundle || !existsSync(bundle)) {
        next(NotFound('The API reference bundle is not installed on this node.'));
        return;
      }
      res.type('application/javascript').sendFile(bundle, { maxAge: '1h' });
    },
  );
  return api;
}
