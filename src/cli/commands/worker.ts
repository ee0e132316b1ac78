/**
 * `diffuse worker`: takes jobs from the Redis queue of `diffuse serve --queue redis://...` and
 * runs them (a thin client of src/server/redis_queue). Add workers to add capacity.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startRedisWorker } from '../../server/redis_queue.js';
import { packageRoot } from '../../backend/native/loader.js';
import { DiffuseError } from '../../tensor/errors.js';

export const summary = 'Run jobs from the Redis queue of `diffuse serve --queue redis://...`.';

export const help = `diffuse worker: take jobs from a Redis queue and run them

Usage: diffuse worker --queue redis://HOST:PORT [options]

Options:
  --queue URL        The Redis of the server (required), as given to 'diffuse serve --queue'.
  --models DIR       The folder of model folders (default: the bundled models/); it must hold the
                     models the server offers, under the same names.
  --concurrency N    Jobs at once, each on its own compute thread (default 1).

Stops cleanly on Ctrl-C or SIGTERM (the running job fails back to the server).
`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { queue: { type: 'string' }, models: { type: 'string' }, concurrency: { type: 'string', default: '1' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new DiffuseError(`unexpected argument '${positionals[0]}'; see 'diffuse worker --help'`);
  const url = values.queue;
  if (url === undefined || !url.startsWith('redis://')) throw new DiffuseError(`--queue redis://HOST:PORT is required, found ${url === undefined ? 'none' : `'${url}'`}`);
  const c = values.concurrency.trim();
  const concurrency = Number(c);
  if (!/^\d+$/.test(c) || concurrency < 1 || concurrency > 64) throw new DiffuseError(`--concurrency must be an integer in [1, 64], found '${values.concurrency}'`);
  const modelsDir = values.models ?? join(packageRoot(), 'models');
  if (!existsSync(modelsDir)) throw new DiffuseError(`--models: no folder ${modelsDir}`);
  const worker = await startRedisWorker({ url, modelsDir, concurrency, log: (line) => process.stdout.write(`diffuse worker: ${line}\n`) });
  process.stdout.write(`diffuse worker: ready (queue ${url}, models ${modelsDir}, concurrency ${concurrency})\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      void worker.close().finally(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
