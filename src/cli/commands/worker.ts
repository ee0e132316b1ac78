/**
 * `diffuse worker`: takes jobs from the Redis queue of `diffuse serve --queue redis://...` and
 * runs them (a thin client of src/server/redis_queue). Add workers to add capacity.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REDIS_PACKAGES, requirePackages } from '../../io/optional_packages.js';
import { packageRoot } from '../../io/package_root.js';
import { UsageError } from '../../tensor/errors.js';
import { described, intField, optional } from '../../schema/field.js';
import { formatFlagHelp, parseCommandFlags, pathFlag } from '../flags.js';

const FLAGS = {
  queue: pathFlag('queue', "The Redis of the server (required), as given to 'diffuse serve --queue'.", 'URL'),
  models: pathFlag('models', 'The folder of model folders; it must hold the models the server offers, under the same names.', 'DIR', 'the bundled models/'),
  concurrency: described(intField('concurrency', 1, 1, 64), 'Jobs at once, each on its own compute thread.', { metavar: 'N' }),
  jobTimeout: described(
    optional(intField('job_timeout', 3600, 1), "the server's --job-timeout"),
    "Longest a job may run here (wall clock); the server's --job-timeout, sent with each job, applies too (the lower wins). Past it the job is stopped and fails with a message naming the limit.",
    { metavar: 'SECONDS' },
  ),
} as const;

export const summary = 'Run jobs from the Redis queue of `diffuse serve --queue redis://...`.';

export const help = `diffuse worker: take jobs from a Redis queue and run them

Usage: diffuse worker --queue redis://HOST:PORT [options]

Options:
${formatFlagHelp(FLAGS)}
Stops cleanly on Ctrl-C or SIGTERM (the running job fails back to the server).
`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseCommandFlags('worker', FLAGS, argv);
  const url = values.queue;
  if (url === undefined || !url.startsWith('redis://')) throw new UsageError(`--queue redis://HOST:PORT is required, found ${url === undefined ? 'none' : `'${url}'`}`);
  const concurrency = values.concurrency;
  const modelsDir = values.models ?? join(packageRoot(), 'models');
  if (!existsSync(modelsDir)) throw new UsageError(`--models: no folder ${modelsDir}`);
  const jobTimeout = values.jobTimeout;
  // bullmq and ioredis are optional peer dependencies: loaded only here, after a check that names what is missing.
  await requirePackages('diffuse worker', REDIS_PACKAGES);
  const { startRedisWorker } = await import('../../server/redis_queue.js');
  const worker = await startRedisWorker({
    url,
    modelsDir,
    concurrency,
    log: (line) => process.stdout.write(`diffuse worker: ${line}\n`),
    ...(jobTimeout === undefined ? {} : { jobTimeoutMs: jobTimeout * 1000 }),
  });
  process.stdout.write(`diffuse worker: ready (queue ${url}, models ${modelsDir}, concurrency ${concurrency})\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      void worker.close().finally(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
