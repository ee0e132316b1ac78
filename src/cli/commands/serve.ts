/**
 * `diffuse serve`: the web app and HTTP API (a thin client of src/server), on loopback unless
 * told otherwise.
 */
import { isLoopbackHost } from '../../server/allowed_hosts.js';
import { checkToken, TOKEN_ENV } from '../../server/token.js';
import { DEFAULT_LIMITS, type Limits } from '../../server/limits.js';
import { DiffuseError, UsageError } from '../../tensor/errors.js';
import { REDIS_PACKAGES, SERVER_PACKAGES, requirePackages } from '../../io/optional_packages.js';
import { boolField, described, hidden, intField, optional, stringField } from '../../schema/field.js';
import { formatFlagHelp, parseCommandFlags, pathFlag } from '../flags.js';

/** A server limit as a flag (its default is DEFAULT_LIMITS'). */
function limitFlag(flag: string, key: keyof Limits, min: number, doc: string, metavar = 'N') {
  return described(optional(intField(flag.replace(/-/g, '_'), DEFAULT_LIMITS[key], min), String(DEFAULT_LIMITS[key])), doc, { metavar });
}

const FLAGS = {
  host: described(stringField('host', '127.0.0.1'), 'Address to listen on (127.0.0.1: this machine only). Any other address (0.0.0.0: every interface) opens the server to the network and needs --allow-remote; give it a --token too.', { metavar: 'HOST' }),
  allowRemote: described(boolField('allow_remote', false), 'Allow a --host that is not loopback (the server has no other authentication than --token).'),
  allowedHosts: described(
    optional(stringField('allowed_hosts', '')),
    "More Host names the server answers to, comma-separated (a guard against DNS rebinding: other names get 421). Always allowed: localhost, 127.0.0.1, [::1] and the --host address (for 0.0.0.0, this machine's addresses and name); '*' allows any.",
    { metavar: 'NAMES' },
  ),
  token: described(
    optional(stringField('token', '')),
    `Require this token on every request: 'Authorization: Bearer TOKEN' for scripts; a browser opens http://HOST:PORT/?token=TOKEN once (kept in a cookie). At least 16 characters (openssl rand -hex 16). Default: the ${TOKEN_ENV} environment variable, else none.`,
    { metavar: 'TOKEN' },
  ),
  port: described(intField('port', 8080, 0, 65535), 'Port (0 picks a free one).', { metavar: 'PORT' }),
  models: pathFlag('models', "A folder of model folders, each as 'diffuse sample --model' takes it. Requests name a model by its folder name; each model's sampling_config.json gives the defaults of what a request leaves out.", 'DIR', 'the bundled models/'),
  queue: described(stringField('queue', 'local'), "'local' (jobs run on worker threads of this process) or redis://HOST:PORT (jobs go through BullMQ; run 'diffuse worker' processes).", { metavar: 'Q' }),
  concurrency: described(
    optional(intField('concurrency', 1, 1), '1'),
    "Jobs the local queue runs at once, each on its own compute thread, as 'diffuse worker --concurrency'. Native threads per job come from DIFFUSE_THREADS.",
    { metavar: 'N' },
  ),
  // Formerly the job count; --threads means native kernel threads everywhere, so here it is refused with the new name.
  threads: hidden(optional(stringField('threads', ''))),
  queueSize: limitFlag('queue-size', 'queueSize', 0, 'Jobs that may wait; one more is answered 429.'),
  maxSteps: limitFlag('max-steps', 'maxSteps', 1, 'Most reverse steps per job.'),
  maxImages: limitFlag('max-images', 'maxImages', 1, 'Most images per generate request.'),
  maxUpload: limitFlag('max-upload', 'maxUploadBytes', 1024, 'Largest uploaded image file (PNG or JPEG); a request body may hold two, as base64 (413 beyond).', 'BYTES'),
  maxSide: limitFlag('max-side', 'maxImageSide', 8, 'Largest side of an uploaded image.', 'PX'),
  jobTimeout: limitFlag('job-timeout', 'jobTimeoutSeconds', 1, 'Longest a job may run (wall clock); past it the job is stopped and fails with a message naming this limit.', 'SECONDS'),
  previewEvery: described(optional(intField('preview_every', 1, 1), 'about 25 per job'), 'Steps between SSE previews.', { metavar: 'K' }),
  log: described(boolField('log', false), "Log every request (fastify's logger, JSON lines on stdout)."),
} as const;

export const summary = 'Serve the web app and HTTP API (jobs, SSE progress, optional Redis workers).';

export const help = `diffuse serve: the web app and HTTP API

Usage: diffuse serve [options]

Options:
${formatFlagHelp(FLAGS)}
Open http://HOST:PORT/ in a browser; the API lives under /api/ (see the README's Web app section).
`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseCommandFlags('serve', FLAGS, argv);
  const port = values.port;
  if (values.host.trim() === '') throw new UsageError(`--host must be an address, found ''`);
  const queue = values.queue;
  if (queue !== 'local' && !queue.startsWith('redis://')) throw new UsageError(`--queue must be 'local' or redis://HOST:PORT, found '${queue}'`);
  if (values.threads !== undefined) {
    throw new UsageError(
      `serve --threads was renamed --concurrency (jobs run at once, each on its own compute thread, as in 'diffuse worker --concurrency'): ` +
        `use --concurrency ${values.threads}. --threads now means native kernel threads everywhere ('diffuse train --threads'); for serve set them with DIFFUSE_THREADS`,
    );
  }
  const concurrency = values.concurrency;
  if (concurrency !== undefined && queue !== 'local') throw new UsageError(`--concurrency applies to the local queue; with --queue redis://... give each 'diffuse worker' its --concurrency`);
  const limits: Partial<Limits> = {};
  const byFlag = { queueSize: values.queueSize, maxSteps: values.maxSteps, maxImages: values.maxImages, maxUploadBytes: values.maxUpload, maxImageSide: values.maxSide, jobTimeoutSeconds: values.jobTimeout };
  for (const [k, v] of Object.entries(byFlag) as [keyof Limits, number | undefined][]) if (v !== undefined) limits[k] = v;
  const previewEvery = values.previewEvery;
  const remote = !isLoopbackHost(values.host);
  if (remote && !values.allowRemote) {
    throw new UsageError(
      `--host ${values.host} opens the server to the network: anyone who reaches this machine can queue jobs and read results. ` +
        `Pass --allow-remote to do it anyway, with --token (or ${TOKEN_ENV}) so that only clients with the token are served; or leave --host out for this machine only`,
    );
  }
  const envToken = process.env[TOKEN_ENV];
  const token = values.token ?? (envToken === undefined || envToken === '' ? undefined : checkToken(envToken, TOKEN_ENV));
  if (values.token !== undefined) checkToken(values.token);
  if (remote) {
    process.stderr.write(
      `diffuse serve: warning: listening on ${values.host}, open to the network${token === undefined ? ' with no token: anyone who reaches this port can use the server (give --token or ' + TOKEN_ENV + ')' : '; requests need the token'}\n`,
    );
  }
  const allowedHosts = (values.allowedHosts ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');

  // fastify & co. are optional peer dependencies: loaded only here, after a check that names what is missing.
  await requirePackages('diffuse serve', queue === 'local' ? SERVER_PACKAGES : [...SERVER_PACKAGES, ...REDIS_PACKAGES]);
  const { startServer } = await import('../../server/app.js');
  const { server, url } = await startServer({
    host: values.host,
    port,
    queue,
    limits,
    logger: values.log,
    allowedHosts,
    ...(token === undefined ? {} : { token }),
    ...(values.models === undefined ? {} : { modelsDir: values.models }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(previewEvery === undefined ? {} : { previewEvery }),
  });
  process.stdout.write(`diffuse serve: ${url}/ (models: ${server.modelsDir}; queue: ${queue === 'local' ? `local, concurrency ${concurrency ?? 1}` : queue}, up to ${server.limits.queueSize} waiting)\n`);
  if (token !== undefined) process.stdout.write(`diffuse serve: requests need the token; in a browser open ${url}/?token=TOKEN once\n`);
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
