/**
 * The web server as the library exports it: createServer and startServer load src/server/app.ts
 * (and with it fastify, an optional peer dependency) only when called, so `import 'diffuse'` loads
 * no server package (issue 16); without fastify they throw a MissingPackageError with the
 * `npm install` line.
 */
import type { DiffuseServer, ServerOptions } from './app.js';
import { REDIS_PACKAGES, SERVER_PACKAGES, requirePackages } from '../io/optional_packages.js';

/** The packages a server with these options needs. */
function packagesFor(options: ServerOptions): readonly string[] {
  return options.queue === undefined || options.queue === 'local' ? SERVER_PACKAGES : [...SERVER_PACKAGES, ...REDIS_PACKAGES];
}

/**
 * Builds the server (not listening); see src/server/app.ts's createServer.
 * @example const server = await createServer({ modelsDir: 'models' });
 */
export async function createServer(options: ServerOptions = {}): Promise<DiffuseServer> {
  await requirePackages('createServer', packagesFor(options));
  return (await import('./app.js')).createServer(options);
}

/**
 * Builds the server and listens; see src/server/app.ts's startServer.
 * @example const { url } = await startServer({ port: 0 });
 */
export async function startServer(options: ServerOptions & { host?: string; port?: number } = {}): Promise<{ server: DiffuseServer; url: string }> {
  await requirePackages('startServer', packagesFor(options));
  return (await import('./app.js')).startServer(options);
}
