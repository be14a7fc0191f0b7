// One app node: the domain services, the HTTP API and (as they land) live events and co-editing
// on one HTTP server. Used by `npm start`, the tests (port 0) and the benchmarks.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { createDomain, type Domain } from './domain.js';
import { createHttpApp } from './http.js';
import { InProcessEventBus, type EventBus } from './platform/bus.js';
import type { Config } from './platform/config.js';
import type { Logger } from './platform/logger.js';
import { resolveJwtSecret } from './modules/auth/tokens.js';

export interface AppHandle {
  url: string;
  port: number;
  domain: Domain;
  server: http.Server;
  close(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  knex: Knex;
  logger: Logger;
  /** Defaults to the in-process bus (embedded mode, one node). */
  bus?: EventBus;
}

export async function startServer({ config, knex, logger, bus = new InProcessEventBus() }: StartOptions): Promise<AppHandle> {
  const domain = createDomain({ knex, bus, logger, jwtSecret: resolveJwtSecret(config) });
  const app = createHttpApp({ domain, logger });
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    domain,
    server,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      }).then(() => bus.close())),
  };
}
