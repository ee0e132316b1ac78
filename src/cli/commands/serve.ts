/**
 * `diffuse serve`: the web app and HTTP API (a thin client of src/server), on loopback unless
 * told otherwise.
 */
import { parseArgs } from 'node:util';
import { startServer } from '../../server/app.js';
import { DEFAULT_LIMITS, type Limits } from '../../server/limits.js';
import { DiffuseError } from '../../tensor/errors.js';

export const summary = 'Serve the web app and HTTP API (jobs, SSE progress, optional Redis workers).';

export const help = `diffuse serve: the web app and HTTP API

Usage: diffuse serve [options]

Options:
  --host HOST        Address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens
                     it to the network, with no authentication).
  --port PORT        Port (default 8080; 0 picks a free one).
  --models DIR       A folder of model folders, each as 'diffuse sample --model' takes it
                     (default: the bundled models/). Requests name a model by its folder name.
  --queue Q          'local' (default: jobs run on worker threads of this process) or
                     redis://HOST:PORT (jobs go through BullMQ; run 'diffuse worker' processes).
  --concurrency N    Jobs the local queue runs at once, each on its own compute thread
                     (default 1), as 'diffuse worker --concurrency'. Native threads per job
                     come from DIFFUSE_THREADS. (Formerly --threads, which now always means
                     native threads and is refused here.)
  --queue-size N     Jobs that may wait; one more is answered 429 (default ${DEFAULT_LIMITS.queueSize}).
  --max-steps N      Most reverse steps per job (default ${DEFAULT_LIMITS.maxSteps}).
  --max-images N     Most images per generate request (default ${DEFAULT_LIMITS.maxImages}).
  --max-upload BYTES Largest request body (default ${DEFAULT_LIMITS.maxUploadBytes}).
  --max-side PX      Largest side of an uploaded image (default ${DEFAULT_LIMITS.maxImageSide}).
  --preview-every K  Steps between SSE previews (default: about 25 per job).
  --log              Log every request (fastify's logger, JSON lines on stdout).

Open http://HOST:PORT/ in a browser; the API lives under /api/ (see the README's Web app section).
`;

function intFlag(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(x) || x < min) throw new DiffuseError(`--${name} must be an integer >= ${min}, found '${v}'`);
  return x;
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8080' },
      models: { type: 'string' },
      queue: { type: 'string', default: 'local' },
      concurrency: { type: 'string' },
      threads: { type: 'string' },
      'queue-size': { type: 'string' },
      'max-steps': { type: 'string' },
      'max-images': { type: 'string' },
      'max-upload': { type: 'string' },
      'max-side': { type: 'string' },
      'preview-every': { type: 'string' },
      log: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new DiffuseError(`unexpected argument '${positionals[0]}'; see 'diffuse serve --help'`);
  const port = intFlag('port', values.port, 0)!;
  if (port > 65535) throw new DiffuseError(`--port must be at most 65535, found ${port}`);
  if (values.host.trim() === '') throw new DiffuseError(`--host must be an address, found ''`);
  const queue = values.queue;
  if (queue !== 'local' && !queue.startsWith('redis://')) throw new DiffuseError(`--queue must be 'local' or redis://HOST:PORT, found '${queue}'`);
  if (values.threads !== undefined) {
    throw new DiffuseError(
      `serve --threads was renamed --concurrency (jobs run at once, each on its own compute thread, as in 'diffuse worker --concurrency'): ` +
        `use --concurrency ${values.threads}. --threads now means native kernel threads everywhere ('diffuse train --threads'); for serve set them with DIFFUSE_THREADS`,
    );
  }
  const concurrency = intFlag('concurrency', values.concurrency, 1);
  if (concurrency !== undefined && queue !== 'local') throw new DiffuseError(`--concurrency applies to the local queue; with --queue redis://... give each 'diffuse worker' its --concurrency`);
  const limits: Partial<Limits> = {};
  const set = (k: keyof Limits, flag: string, min: number): void => {
    const v = intFlag(flag, values[flag as keyof typeof values] as string | undefined, min);
    if (v !== undefined) limits[k] = v;
  };
  set('queueSize', 'queue-size', 0);
  set('maxSteps', 'max-steps', 1);
  set('maxImages', 'max-images', 1);
  set('maxUploadBytes', 'max-upload', 1024);
  set('maxImageSide', 'max-side', 8);
  const previewEvery = intFlag('preview-every', values['preview-every'], 1);

  const { server, url } = await startServer({
    host: values.host,
    port,
    queue,
    limits,
    logger: values.log,
    ...(values.models === undefined ? {} : { modelsDir: values.models }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(previewEvery === undefined ? {} : { previewEvery }),
  });
  process.stdout.write(`diffuse serve: ${url}/ (models: ${server.modelsDir}; queue: ${queue === 'local' ? `local, concurrency ${concurrency ?? 1}` : queue}, up to ${server.limits.queueSize} waiting)\n`);
  // Stop cleanly on Ctrl-C / SIGTERM: running jobs are cancelled, connections closed.
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.stdout.write('diffuse serve: stopping\n');
      void server.close().finally(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
