/**
 * The HTTP API and web page of `diffuse serve` (fastify): every request body is checked by a JSON
 * schema and then against the model it names, a job is queued (202) or refused (400, 404, 413,
 * 429), and its progress streams over Server-Sent Events with a preview of the predicted
 * x_0 every few steps. The server only validates, queues and encodes: compute runs in worker
 * threads (or in `diffuse worker` processes through Redis), never on the event loop.
 *
 * Hardening, in the order a request meets it: security headers on every answer
 * (security_headers.ts); the Host allow-list against DNS rebinding (421) and, for requests that
 * change state, the Origin check against cross-site posts (403) (allowed_hosts.ts); the optional
 * token (401; token.ts); body size (413) and type (415) limits before parsing; uploads by their
 * signature (PNG and JPEG only, 415; upload_format.ts) and header size (413) before decoding; a
 * wall-clock limit per job (pool.ts). Error messages never carry file-system paths
 * (scrub_paths.ts), and an unexpected error is logged whole on stderr while the client gets a
 * 500 with the request's id.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { REDIS_PACKAGES, requirePackages } from '../io/optional_packages.js';
import { bundledModelsDir, packageRoot } from '../io/model_folder.js';
import { decodeImage, probeImage } from '../io/png.js';
import { resolveSampling } from '../io/sampling_config.js';
import { DEFAULT_STEPS, FALLBACK_SCHEDULER, samplingMethods, schedulerNames } from '../sampling/registry.js';
import { DiffuseError } from '../tensor/errors.js';
import { base64Length, maxBodyBytes, resolveLimits, type Limits } from './limits.js';
import { makeScrubber } from './scrub_paths.js';
import { setSecurityHeaders } from './security_headers.js';
import { hostAllowed, hostPolicy, originAllowed } from './allowed_hosts.js';
import { checkToken, tokenCookie, tokenMatches, tokenOf, withoutToken } from './token.js';
import { ACCEPTED_UPLOAD_FORMATS, uploadFormat } from './upload_format.js';
import { describeModel, listModelNames, MODEL_NAME_PATTERN, ModelNotFoundError, type ModelInfo } from './models.js';
import { JobStore, isFinal, jobView, type Job, type JobEvent } from './jobs.js';
import { LocalQueue, QueueFullError, type JobQueue } from './local_queue.js';
import { f32ToBase64, JOB_KINDS, type JobKind, type JobParams, type JobSpec, type SamplingParams, type WireImage } from './job_types.js';

/** Options of `createServer`. */
export interface ServerOptions {
  /** The folder whose sub-folders are the models (default: the package's models/). */
  modelsDir?: string;
  limits?: Partial<Limits>;
  /** 'local' (default: worker threads in this process) or a redis://HOST:PORT URL (BullMQ). */
  queue?: string;
  /**
   * Jobs the local queue runs at once, each on its own compute thread (default 1); the same as
   * `startRedisWorker`'s `concurrency`. Native threads per job come from DIFFUSE_THREADS.
   */
  concurrency?: number;
  /** @deprecated The old name of `concurrency` (still accepted; give one of the two). */
  threads?: number;
  /** Steps between SSE previews (default: about 25 previews per job). */
  previewEvery?: number;
  /** Folder of the built web page (default: dist/web of the package). */
  webDir?: string;
  /** fastify's logger option (default false). */
  logger?: boolean;
  /** The address the server listens on (startServer's); the Host allow-list adds it (all of this machine's for 0.0.0.0). */
  host?: string;
  /** More Host names the server answers to besides the loopback ones (--allowed-hosts); '*' for any. */
  allowedHosts?: readonly string[];
  /** When set, every request must carry this token (Authorization: Bearer, or the web page's cookie). */
  token?: string;
  /** Where unexpected errors are logged in full (default: the process's stderr). */
  logError?(line: string): void;
  /** How long a job past --job-timeout may take to stop before its thread is terminated (default 10 s). */
  stopGraceMs?: number;
}

/** A running server's parts. */
export interface DiffuseServer {
  app: FastifyInstance;
  store: JobStore;
  queue: JobQueue;
  limits: Limits;
  modelsDir: string;
  close(): Promise<void>;
}

/** An error with its HTTP status. */
class HttpError extends DiffuseError {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** How long a client may take to send a whole request (headers and body), in ms: a slow sender cannot hold a connection open. */
const REQUEST_TIMEOUT_MS = 60_000;

/** Methods that read only; any other changes state and must pass the Origin check. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Seconds between SSE comments that keep idle connections (and proxies) open. */
const SSE_HEARTBEAT_MS = 15_000;


const MODEL_NAME = { type: 'string', pattern: MODEL_NAME_PATTERN } as const;

function samplingProperties(limits: Limits): Record<string, unknown> {
  return {
    model: MODEL_NAME,
    sampler: { type: 'string', enum: schedulerNames() },
    steps: { type: 'integer', minimum: 1, maximum: limits.maxSteps },
    guidance: { type: 'number', minimum: 0, maximum: 30 },
    classLabel: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }] },
    seed: { type: 'integer', minimum: 0, maximum: 2 ** 32 - 1 },
    eta: { type: 'number', minimum: 0, maximum: 10 },
  };
}

/** An uploaded image: base64 of a PNG or JPEG file, or a data: URL of one (its size is checked in upload(), answered 413). */
function imageField(): Record<string, unknown> {
  return { type: 'string', minLength: 1 };
}

function bodySchema(properties: Record<string, unknown>, required: string[]): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, required, properties };
}

interface SamplingBody {
  model: string;
  sampler?: string;
  steps?: number;
  guidance?: number;
  classLabel?: number | null;
  seed?: number;
  eta?: number;
}

export async function createServer(options: ServerOptions = {}): Promise<DiffuseServer> {
  const limits = resolveLimits(options.limits ?? {});
  const modelsDir = options.modelsDir ?? bundledModelsDir();
  if (!existsSync(modelsDir)) throw new DiffuseError(`serve: the models folder ${modelsDir} does not exist; pass --models DIR (a folder of model folders)`);
  const webDir = options.webDir ?? join(packageRoot(), 'dist', 'web');
  const scrub = makeScrubber(modelsDir);
  const logError = options.logError ?? ((line: string) => process.stderr.write(`${line}\n`));
  const hosts = hostPolicy(options.host ?? '127.0.0.1', options.allowedHosts ?? []);
  const token = options.token === undefined ? undefined : checkToken(options.token);
  const store = new JobStore(limits.maxRetainedJobs, { scrub, logInternal: logError });
  const queueUrl = options.queue ?? 'local';
  let queue: JobQueue;
  if (options.threads !== undefined && options.concurrency !== undefined && options.threads !== options.concurrency) {
    throw new DiffuseError(`createServer: 'threads' is the old name of 'concurrency'; give one of them, found threads ${options.threads} and concurrency ${options.concurrency}`);
  }
  const concurrency = options.concurrency ?? options.threads ?? 1;
  const poolOptions = { jobTimeoutMs: limits.jobTimeoutSeconds * 1000, ...(options.stopGraceMs === undefined ? {} : { stopGraceMs: options.stopGraceMs }) };
  if (queueUrl === 'local') queue = new LocalQueue(store, limits.queueSize, modelsDir, concurrency, poolOptions);
  else {
    await requirePackages(`a Redis queue (${queueUrl})`, REDIS_PACKAGES);
    const { RedisQueue } = await import('./redis_queue.js');
    queue = await RedisQueue.connect(store, limits.queueSize, queueUrl);
  }
  const kinds = [...JOB_KINDS];

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: maxBodyBytes(limits),
    requestTimeout: REQUEST_TIMEOUT_MS,
    genReqId: () => randomUUID(),
    // Errors fastify answers before any hook (a URL that does not decode, e.g. /%ff): the same headers and a scrubbed message.
    frameworkErrors: (err, _req, reply) => {
      setSecurityHeaders(reply.raw);
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      // (fastify types this reply by route schemas it has not matched yet: answer it as a plain reply)
      void (reply as unknown as { code(n: number): { send(body: unknown): unknown } }).code(status).send({ error: scrub(`bad request: ${err.message}`) });
    },
    // Exactly what the schemas say: no type coercion, unknown fields are errors (not dropped).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false } },
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    const send = (status: number, message: string) => reply.code(status).send({ error: scrub(message) });
    if (err instanceof HttpError) return send(err.statusCode, err.message);
    if (err instanceof QueueFullError) return reply.header('retry-after', '1').code(429).send({ error: err.message });
    if (err instanceof ModelNotFoundError) return send(/not valid/.test(err.message) ? 400 : 404, err.message);
    if (err.validation !== undefined) return send(400, `invalid request: ${err.message}`);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return send(413, `the request body is larger than the limit of ${maxBodyBytes(limits)} bytes (room for two uploads of --max-upload ${limits.maxUploadBytes} bytes each, as base64 in JSON)`);
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return send(415, `this API takes JSON bodies (content-type: application/json), found content-type '${String(req.headers['content-type'] ?? 'none').slice(0, 100)}'; images travel inside the JSON as base64 or data: URLs, not as multipart form uploads`);
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status < 500) return send(status, err.message);
    // Unexpected: the whole error for the server's log, the request's id for the client.
    logError(`diffuse serve: internal error in ${req.method} ${req.url.split('?')[0]!.slice(0, 200)} (request ${req.id}): ${err.stack ?? String(err)}`);
    return reply.code(500).send({ error: `internal error; the server's log has the details (request ${req.id})`, requestId: req.id });
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: scrub(`no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}; the API lives under /api/ (see the README's Web app section)`) }));

  // Every answer carries the security headers (set on the raw response, so event streams and static files get them too).
  app.addHook('onRequest', async (req, reply) => {
    setSecurityHeaders(reply.raw);
    const host = req.headers.host;
    if (!hostAllowed(hosts, host)) {
      return reply.code(421).send({
        // The names themselves are not listed: a rebinding page can read this answer, and they may include this machine's addresses.
        error: `this server does not answer to the host name '${String(host).slice(0, 100)}' (a guard against DNS rebinding); it answers to localhost, 127.0.0.1, [::1], its --host address and the names given with --allowed-hosts. Start it with --allowed-hosts NAME to add a name`,
      });
    }
    if (!SAFE_METHODS.has(req.method) && !originAllowed(req.headers.origin, host)) {
      return reply.code(403).send({ error: `cross-origin request refused: a ${req.method} from origin '${String(req.headers.origin).slice(0, 100)}' to this server; requests that change state must come from the server's own page (or carry no Origin)` });
    }
    if (token !== undefined) {
      const given = tokenOf(req.headers, req.url);
      if (!tokenMatches(token, given.token)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send({ error: `this server needs its token: send 'Authorization: Bearer TOKEN', or open http://HOST:PORT/?token=TOKEN once in the browser${given.token === undefined ? '' : ' (the token given is not the right one)'}` });
      }
      // The page's address with the token: keep it in a cookie and drop it from the address bar.
      if (given.fromQuery && (req.method === 'GET' || req.method === 'HEAD') && !req.url.startsWith('/api/')) {
        return reply.code(303).header('set-cookie', tokenCookie(token)).header('location', withoutToken(req.url)).send();
      }
    }
    return undefined;
  });

  // ---- models and samplers --------------------------------------------------------------
  const modelInfo = (name: string): ModelInfo => {
    try {
      return describeModel(modelsDir, name);
    } catch (e) {
      // A model whose files cannot be read (a broken config.json): the model's fault, named; not a 500.
      if (e instanceof DiffuseError && !(e instanceof ModelNotFoundError)) throw new ModelNotFoundError(`model '${name}' cannot be read: ${e.message}`);
      throw e;
    }
  };

  app.get('/api/health', async () => ({ ok: true, queue: { mode: queue.mode, ...queue.stats() }, kinds }));

  app.get('/api/models', async () => {
    const models: ModelInfo[] = [];
    for (const name of listModelNames(modelsDir)) {
      try {
        models.push(modelInfo(name));
      } catch {
        // a folder that does not describe itself is left out of the list
      }
    }
    return { models };
  });

  app.get<{ Params: { name: string } }>('/api/models/:name', { schema: { params: { type: 'object', properties: { name: MODEL_NAME }, required: ['name'] } } }, async (req) =>
    modelInfo(req.params.name),
  );

  // Every method the jobs run (the registry's DDPM-family methods) with its capability data.
  app.get('/api/samplers', async () => ({
    default: FALLBACK_SCHEDULER,
    names: schedulerNames(),
    methods: samplingMethods().filter((m) => m.needs === 'ddpm').map((m) => ({ name: m.name, kind: m.kind, aliases: m.aliases, stochastic: m.stochastic, takesEta: m.takesEta, takesSigmas: m.takesSigmas, modelCallsPerStep: m.modelCallsPerStep, paper: m.paper })),
  }));

  app.get('/api/limits', async () => limits);

  // ---- jobs -------------------------------------------------------------------------------

  /** Checks the sampling fields against the model, filling defaults. */
  function sampling(body: SamplingBody, kind: JobKind): { params: SamplingParams; info: ModelInfo } {
    const info = modelInfo(body.model);
    if (kind === 'upscale' && info.task !== 'superres') throw new HttpError(400, `model '${info.name}' is not a super-resolution model (no superres.json); upscale needs one trained with 'diffuse train --task superres'`);
    if (kind !== 'upscale' && info.task === 'superres') throw new HttpError(400, `model '${info.name}' is a super-resolution model: it only upscales (POST /api/upscale)`);
    // The one rule for sampling defaults (io/sampling_config.ts): the request, then the model's sampling_config.json (its steps go with its sampler), then the registry's FALLBACK_SCHEDULER and DEFAULT_STEPS.
    const choice = resolveSampling(
      { guidanceScale: info.defaults.guidance, scheduler: info.defaults.sampler, numInferenceSteps: info.defaults.steps },
      { scheduler: body.sampler, steps: body.steps, guidanceScale: body.guidance },
      FALLBACK_SCHEDULER,
    );
    const guidance = choice.guidanceScale;
    const classLabel = body.classLabel ?? null;
    if (classLabel !== null) {
      if (info.numClasses === 0) throw new HttpError(400, `model '${info.name}' is unconditional; leave classLabel out (or null)`);
      if (classLabel >= info.numClasses) throw new HttpError(400, `classLabel ${classLabel} is out of range: model '${info.name}' has classes 0..${info.numClasses - 1}`);
    }
    if (guidance !== 1 && !info.guidance) throw new HttpError(400, `guidance ${guidance} needs a class-conditional model with a null class; model '${info.name}' has none (use guidance 1)`);
    const sampler = choice.scheduler;
    const steps = choice.steps ?? DEFAULT_STEPS;
    const trainSteps = info.scheduler?.numTrainTimesteps ?? 1000;
    if (steps > trainSteps) throw new HttpError(400, `steps ${steps} is more than the model's ${trainSteps} training timesteps`);
    const params: SamplingParams = { model: info.name, sampler, steps, seed: body.seed ?? 0, guidance, classLabel };
    if (body.eta !== undefined) params.eta = body.eta;
    return { params, info };
  }

  /** Decodes an uploaded image to the model's size and channels, checking its size first. */
  async function upload(field: string, value: string, info: ModelInfo, asMask = false, factor = 1): Promise<WireImage> {
    const b64 = value.startsWith('data:') ? value.slice(value.indexOf(',') + 1) : value;
    // The base64 text's length bounds the file's before anything is decoded.
    if (b64.length > base64Length(limits.maxUploadBytes) + 4) {
      throw new HttpError(413, `'${field}' is about ${Math.floor((b64.length * 3) / 4)} bytes, more than the upload limit of ${limits.maxUploadBytes} bytes (--max-upload)`);
    }
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length > limits.maxUploadBytes) throw new HttpError(413, `'${field}' is ${bytes.length} bytes, more than the upload limit of ${limits.maxUploadBytes} bytes (--max-upload)`);
    // PNG and JPEG only, by the bytes' signature (not a name or a data: URL's media type).
    const format = uploadFormat(bytes);
    if (format !== null && !(ACCEPTED_UPLOAD_FORMATS as readonly string[]).includes(format)) {
      throw new HttpError(415, `'${field}' is a ${format} file; uploads must be ${ACCEPTED_UPLOAD_FORMATS.join(' or ')} (base64 of the file, or a data: URL of one)`);
    }
    let probe: Awaited<ReturnType<typeof probeImage>>;
    try {
      probe = await probeImage(bytes);
    } catch (e) {
      throw new HttpError(400, `'${field}' is not a PNG or JPEG image (base64 of the file, or a data: URL): ${(e as Error).message}`);
    }
    if (probe.width > limits.maxImageSide || probe.height > limits.maxImageSide) {
      throw new HttpError(413, `'${field}' is ${probe.width}x${probe.height} pixels, larger than the limit of ${limits.maxImageSide} per side`);
    }
    const [sh, sw] = info.sampleSize ?? [28, 28];
    if (sh !== sw) throw new HttpError(400, `model '${info.name}' makes ${sh}x${sw} images; uploads are supported for square models only`);
    // An upscale input is the model's size divided by its factor.
    const mh = Math.round(sh / factor);
    const mw = mh;
    // An image of the model's size is taken as it is; others are resized and center-cropped.
    // The header can be whole while the pixel data is not (a truncated file): that is the upload's fault, a 400.
    let img: Awaited<ReturnType<typeof decodeImage>>;
    try {
      img = await decodeImage(bytes, probe.width === mw && probe.height === mh ? {} : { size: mh });
    } catch (e) {
      throw new HttpError(400, `'${field}' cannot be decoded (a truncated or corrupt image file?): ${(e as Error).message}`);
    }
    const c = asMask ? 1 : info.channels;
    const n = img.height * img.width;
    const out = new Float32Array(n * c); // (H, W, C)
    for (let i = 0; i < n; i++) {
      // Grey <-> RGB: the mean of the channels, or the grey value repeated.
      let v = 0;
      for (let k = 0; k < img.channels; k++) v += img.data[i * img.channels + k]!;
      v /= img.channels;
      if (asMask) out[i] = v > 0 ? 1 : 0; // white (> mid-grey) is painted over, black is kept
      else if (c === img.channels) for (let k = 0; k < c; k++) out[i * c + k] = img.data[i * c + k]!;
      else for (let k = 0; k < c; k++) out[i * c + k] = v;
    }
    return { height: img.height, width: img.width, channels: c, f32: f32ToBase64(out) };
  }

  async function enqueue(reply: FastifyReply, job: JobParams, summary: Record<string, unknown>): Promise<FastifyReply> {
    const record = store.create(job.kind, summary);
    const spec = { ...job, id: record.id, maxTimelineFrames: limits.maxTimelineFrames, timeoutMs: limits.jobTimeoutSeconds * 1000, ...(options.previewEvery === undefined ? {} : { previewEvery: options.previewEvery }) } as JobSpec;
    try {
      await queue.submit(spec);
    } catch (e) {
      store.drop(record.id);
      throw e;
    }
    return reply.code(202).header('location', `/api/jobs/${record.id}`).send(jobView(record));
  }

  const routeOf = (kind: JobKind, extra: Record<string, unknown>, required: string[] = []) => ({
    schema: { body: bodySchema({ ...samplingProperties(limits), ...extra }, ['model', ...required]) },
  });

  app.post<{ Body: SamplingBody & { n?: number } }>('/api/generate', routeOf('generate', { n: { type: 'integer', minimum: 1, maximum: limits.maxImages } }), async (req, reply) => {
    const { params } = sampling(req.body, 'generate');
    const n = req.body.n ?? 1;
    return enqueue(reply, { kind: 'generate', params: { ...params, n } }, { ...params, n });
  });

  app.post<{ Body: SamplingBody & { image: string; mask: string } }>('/api/inpaint', routeOf('inpaint', { image: imageField(), mask: imageField() }, ['image', 'mask']), async (req, reply) => {
    const { params, info } = sampling(req.body, 'inpaint');
    const image = await upload('image', req.body.image, info);
    const mask = await upload('mask', req.body.mask, info, true);
    return enqueue(reply, { kind: 'inpaint', params: { ...params, image, mask } }, { ...params });
  });

  app.post<{ Body: SamplingBody & { image: string; strength?: number } }>(
    '/api/img2img',
    routeOf('img2img', { image: imageField(), strength: { type: 'number', exclusiveMinimum: 0, maximum: 1 } }, ['image']),
    async (req, reply) => {
      const { params, info } = sampling(req.body, 'img2img');
      const image = await upload('image', req.body.image, info);
      const strength = req.body.strength ?? 0.6;
      return enqueue(reply, { kind: 'img2img', params: { ...params, image, strength } }, { ...params, strength });
    },
  );

  app.post<{ Body: SamplingBody & { image: string } }>('/api/upscale', routeOf('upscale', { image: imageField() }, ['image']), async (req, reply) => {
    const { params, info } = sampling(req.body, 'upscale');
    const scale = info.scale!;
    const image = await upload('image', req.body.image, info, false, scale);
    return enqueue(reply, { kind: 'upscale', params: { ...params, image, scale } }, { ...params, scale });
  });

  app.post<{ Body: { model: string; image: string; t: number[]; seed?: number } }>(
    '/api/explain',
    {
      schema: {
        body: bodySchema(
          {
            model: MODEL_NAME,
            image: imageField(),
            t: { type: 'array', minItems: 1, maxItems: limits.maxExplainFrames, items: { type: 'integer', minimum: 0 } },
            seed: { type: 'integer', minimum: 0, maximum: 2 ** 32 - 1 },
          },
          ['model', 'image', 't'],
        ),
      },
    },
    async (req, reply) => {
      const info = modelInfo(req.body.model);
      const trainSteps = info.scheduler?.numTrainTimesteps ?? 1000;
      const bad = req.body.t.find((t) => t >= trainSteps);
      if (bad !== undefined) throw new HttpError(400, `t = ${bad} is out of range: model '${info.name}' has timesteps 0..${trainSteps - 1}`);
      const image = await upload('image', req.body.image, info);
      const params = { model: info.name, image, t: req.body.t, seed: req.body.seed ?? 0 };
      return enqueue(reply, { kind: 'explain', params }, { model: info.name, t: req.body.t, seed: params.seed });
    },
  );

  const idParams = { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } }, required: ['id'] } as const;
  const jobOf = (req: FastifyRequest<{ Params: { id: string } }>): Job => {
    const job = store.get(req.params.id);
    if (job === undefined) throw new HttpError(404, `no job '${req.params.id}' (finished jobs are kept for the last ${limits.maxRetainedJobs})`);
    return job;
  };

  app.get('/api/jobs', async () => ({ jobs: store.list().reverse().map(jobView), queue: { mode: queue.mode, ...queue.stats() } }));

  app.get<{ Params: { id: string } }>('/api/jobs/:id', { schema: { params: idParams } }, async (req) => jobView(jobOf(req)));

  const cancel = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const job = jobOf(req);
    if (isFinal(job.state)) return reply.code(409).send({ error: `job ${job.id} is already ${job.state}`, job: jobView(job) });
    await queue.cancel(job.id);
    // A queued job is cancelled at once; a running one stops at its next step.
    return reply.code(202).send(jobView(job));
  };
  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', { schema: { params: idParams } }, cancel);
  app.delete<{ Params: { id: string } }>('/api/jobs/:id', { schema: { params: idParams } }, cancel);

  app.get<{ Params: { id: string } }>('/api/jobs/:id/result', { schema: { params: idParams } }, async (req, reply) => {
    const job = jobOf(req);
    if (job.state !== 'done' || job.result === null) return reply.code(409).send({ error: `job ${job.id} is ${job.state}, not done`, job: jobView(job) });
    const url = (b64: string) => `data:image/png;base64,${b64}`;
    const r = job.result;
    return {
      ...jobView(job),
      result: {
        width: r.width,
        height: r.height,
        channels: r.channels,
        classLabels: r.classLabels,
        images: r.images.map(url),
        grid: url(r.grid),
        ...(r.timeline === undefined ? {} : { timeline: { stepIndex: r.timeline.stepIndex, timesteps: r.timeline.timesteps, xt: r.timeline.xt.map(url), x0: r.timeline.x0.map(url) } }),
        ...(r.forward === undefined ? {} : { forward: { ...r.forward, frames: r.forward.frames.map(url) } }),
      },
    };
  });

  const png = (reply: FastifyReply, b64: string | undefined, what: string) => {
    if (b64 === undefined) throw new HttpError(404, `no ${what}`);
    return reply.type('image/png').header('cache-control', 'public, max-age=3600, immutable').send(Buffer.from(b64, 'base64'));
  };
  const doneResult = (req: FastifyRequest<{ Params: { id: string } }>) => {
    const job = jobOf(req);
    if (job.state !== 'done' || job.result === null) throw new HttpError(409, `job ${job.id} is ${job.state}, not done`);
    return job.result;
  };
  app.get<{ Params: { id: string } }>('/api/jobs/:id/grid.png', { schema: { params: idParams } }, async (req, reply) => png(reply, doneResult(req).grid, 'grid'));
  app.get<{ Params: { id: string; index: string } }>(
    '/api/jobs/:id/images/:index',
    { schema: { params: { ...idParams, properties: { ...idParams.properties, index: { type: 'string', pattern: '^\\d{1,4}(\\.png)?$' } } } } },
    async (req, reply) => png(reply, doneResult(req).images[parseInt(req.params.index, 10)], `image ${req.params.index}`),
  );

  // ---- Server-Sent Events -------------------------------------------------------------------
  app.get<{ Params: { id: string } }>('/api/jobs/:id/events', { schema: { params: idParams } }, (req, reply) => {
    const job = jobOf(req);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const progressData = (p: NonNullable<Job['progress']>) => ({
      step: p.step,
      total: p.total,
      ...(p.preview === undefined
        ? {}
        : { preview: { x0: `data:image/png;base64,${p.preview.x0}`, ...(p.preview.xt === undefined ? {} : { xt: `data:image/png;base64,${p.preview.xt}` }) } }),
    });
    const stateData = (j: Job) => ({ state: j.state, ...(j.error === null ? {} : { error: j.error, errorKind: j.errorKind }) });
    let closed = false;
    let unsubscribe = (): void => {};
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
    const end = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      res.end();
    };
    res.on('close', end);
    send('state', stateData(job));
    if (job.progress !== null) send('progress', progressData(job.progress));
    if (isFinal(job.state)) return end();
    unsubscribe = store.subscribe(job.id, (e: JobEvent) => {
      if (closed) return;
      if (e.type === 'progress') send('progress', progressData(e.progress));
      else {
        send('state', stateData(job));
        if (isFinal(e.state)) end();
      }
    });
  });

  // ---- the web page --------------------------------------------------------------------------
  if (existsSync(join(webDir, 'index.html'))) {
    await app.register(fastifyStatic, { root: webDir, prefix: '/', index: ['index.html'], wildcard: false });
  } else {
    app.get('/', async (_req, reply) =>
      reply.code(503).type('text/plain').send(`The web page is not built (no index.html in its folder${options.webDir === undefined ? ', dist/web of the package' : ''}). Run: npm run build:web\nThe API is up under /api/.`),
    );
  }

  return {
    app,
    store,
    queue,
    limits,
    modelsDir,
    async close() {
      await app.close();
      await queue.close();
    },
  };
}

/**
 * Starts a server and listens (loopback unless told otherwise). Returns the server and its URL.
 * @example const { url, server } = await startServer({ port: 0 }); // url: 'http://127.0.0.1:43117'
 */
export async function startServer(options: ServerOptions & { host?: string; port?: number } = {}): Promise<{ server: DiffuseServer; url: string }> {
  const host = options.host ?? '127.0.0.1';
  const server = await createServer({ ...options, host });
  try {
    await server.app.listen({ host, port: options.port ?? 8080 });
  } catch (e) {
    await server.queue.close();
    throw new DiffuseError(`serve: could not listen on ${host}:${options.port ?? 8080}: ${(e as Error).message}`);
  }
  const addr = server.app.server.address();
  const port = addr !== null && typeof addr === 'object' ? addr.port : options.port;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` };
}
