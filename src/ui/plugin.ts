/**
 * The dashboard: static HTML/JS/CSS from `src/ui/public` at `/` and `/ui/`, plus uPlot's
 * built files from node_modules at `/ui/vendor/` (served locally: users may be offline).
 * The pages hold no data; they call the `/v1` API from the browser with the user's key.
 * No inline scripts or styles, so a strict `script-src 'self'` CSP works.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

export interface UiPluginOptions {
  /** Folder of the dashboard's static files. Default: `src/ui/public` next to this file (or the source tree when running from dist/). */
  root?: string;
  /** Serve the dashboard at `/` too (redirect to `/ui/`). Default true. */
  serveRoot?: boolean;
}

/** Finds `public/` beside this module, or in the source tree when this module runs from dist/. */
export function resolvePublicRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'public'), join(here, '..', '..', '..', 'src', 'ui', 'public')];
  const found = candidates.find((c) => existsSync(join(c, 'index.html')));
  if (!found) throw new Error(`dashboard files not found in ${candidates.join(' or ')}`);
  return found;
}

/** uPlot's dist folder, resolved through Node's module resolution. */
export function resolveUplotDist(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
}

/** Registers the dashboard routes. Register it without a prefix. */
export const uiPlugin: FastifyPluginAsync<UiPluginOptions> = async (app: FastifyInstance, opts) => {
  const root = opts.root ?? resolvePublicRoot();
  const uplot = resolveUplotDist();
  await app.register(fastifyStatic, {
    root,
    prefix: '/ui/',
    decorateReply: false,
    index: ['index.html'],
    // the pages change with the server version; let browsers revalidate
    cacheControl: true,
    maxAge: 0,
    schemaHide: true,
  });
  await app.register(fastifyStatic, {
    root: uplot,
    prefix: '/ui/vendor/',
    decorateReply: false,
    allowedPath: (path) => path === '/uPlot.iife.min.js' || path === '/uPlot.min.css',
    maxAge: '1d',
    schemaHide: true,
  });
  app.get('/ui', { schema: { hide: true } }, (_req, reply) => reply.redirect('/ui/', 302));
  if (opts.serveRoot !== false) app.get('/', { schema: { hide: true } }, (_req, reply) => reply.redirect('/ui/', 302));
};

export default uiPlugin;
