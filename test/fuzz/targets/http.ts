/**
 * Target 'http': the API of `diffuse serve` (src/server/app.ts), every route, through fastify's
 * inject (no socket) on a server in the child with the tiny test models, a served web folder and
 * a canary file outside it. Requests: valid bodies mutated field by field (wrong types, huge
 * numbers, unknown and prototype keys, traversal in model names), raw body bytes, uploads of
 * every image kind (foreign formats, truncated, huge headers), oversized bodies, odd content
 * types, methods and headers (a foreign Host or Origin), hostile URLs (traversal, encodings,
 * very long). Every answer must be below 500, a 4xx must carry a message, no answer may hold an
 * absolute path or the canary, a foreign Host must be refused, and an accepted job must finish
 * without an internal error.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { createServer, type DiffuseServer } from '../../../src/server/app.js';
import { packageRoot } from '../../../src/io/package_root.js';
import { makeModelsDir } from '../../server/helpers.js';
import { mutateBytes } from '../mutators/bytes.js';
import { mutateJson, EDGE_STRINGS } from '../mutators/json.js';
import { imageInput } from '../mutators/images.js';
import { imageCorpus } from './images.js';
import type { Rng } from '../rng.js';
import type { MadeCase, RunContext, Target, Violation } from '../target.js';

/** Limits of the fuzzed server (small: an oversized body is cheap to make). */
const LIMITS = { queueSize: 4, maxSteps: 50, maxImages: 4, maxUploadBytes: 64 * 1024, maxImageSide: 256 };
const CANARY = 'FUZZ-CANARY-5d41402abc4b2a76';
/** How long an accepted job may take (tiny models, at most 50 steps). */
const JOB_TIMEOUT_MS = 20_000;

interface Spec {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** File in the case folder holding the body, or null. */
  body: string | null;
  /** The upload is a format the API does not document (it must be refused). */
  foreignUpload: string | null;
  /** The Host header is not a loopback name, or the Origin a foreign site (it must be refused). */
  foreignHost: boolean;
}

const MODELS = ['tiny', 'tiny-uncond', 'tiny-sr', 'broken', 'escape', 'nope'];
const HOSTILE_NAMES = ['broken', 'tiny-sr', 'tiny-uncond', '..', '../secret-model', '..%2fsecret-model', '%2e%2e', '/etc/passwd', 'escape', '.', 'tiny/../tiny', 'tiny\u0000', 'a'.repeat(65), '__proto__', 'constructor', 'tiny%00', '~', 'TINY', ' tiny'];
const STATIC_URLS = ['/', '/index.html', '/app.js', '/../canary.txt', '/..%2fcanary.txt', '/%2e%2e/canary.txt', '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '//etc/passwd', '/....//canary.txt', '/index.html/..', '/api/../../canary.txt', '/%00', '/%ff', '/\\..\\canary.txt', '/.env', '/' + 'a'.repeat(20000), '/api/models/..%2f..%2fcanary.txt', '/api/models/%2e%2e', '/api/jobs/../../canary.txt', '/api?x=' + '%'.repeat(100)];
const LOOPBACK_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i;

/** A valid body of each POST route, with an image (base64) where it takes one. */
function validBody(route: string, image: string, mask: string): Record<string, unknown> {
  switch (route) {
    case '/api/generate': return { model: 'tiny', steps: 2, seed: 1, n: 1, classLabel: 1, guidance: 1.5, sampler: 'ddim' };
    case '/api/inpaint': return { model: 'tiny', steps: 2, image, mask };
    case '/api/img2img': return { model: 'tiny', steps: 2, image, strength: 0.5 };
    case '/api/upscale': return { model: 'tiny-sr', steps: 2, image };
    case '/api/explain': return { model: 'tiny', image, t: [10, 500] };
    default: return {};
  }
}

const POST_ROUTES = ['/api/generate', '/api/inpaint', '/api/img2img', '/api/upscale', '/api/explain'];

/** Every route (and a few hostile static paths), in the order the first cases take them; '#NAME' names the model of a POST. */
const COVER = [
  ...POST_ROUTES,
  '/api/generate#broken', '/api/img2img#broken',
  '/api/health', '/api/models', '/api/models/tiny', '/api/models/escape', '/api/models/broken', '/api/models/..%2fsecret-model', '/api/samplers', '/api/limits', '/api/jobs',
  '/api/jobs/00000000-0000-0000-0000-000000000000', '/api/jobs/00000000-0000-0000-0000-000000000000/result', '/api/jobs/00000000-0000-0000-0000-000000000000/grid.png',
  '/api/jobs/00000000-0000-0000-0000-000000000000/images/0', '/api/jobs/00000000-0000-0000-0000-000000000000/events', '/', '/../canary.txt', '/%2e%2e/canary.txt', '/nope.html',
];

function getUrl(rng: Rng): string {
  const id = rng.chance(0.5) ? randomUUIDFrom(rng) : rng.pick(['x', '../../etc/passwd', '0'.repeat(36), 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz', '%2e%2e']);
  return rng.pick([
    '/api/health', '/api/models', `/api/models/${encodeURIComponent(rng.pick([...MODELS, ...HOSTILE_NAMES]))}`, `/api/models/${rng.pick(HOSTILE_NAMES)}`, '/api/samplers', '/api/limits', '/api/jobs',
    `/api/jobs/${id}`, `/api/jobs/${id}/result`, `/api/jobs/${id}/grid.png`, `/api/jobs/${id}/images/${rng.pick(['0', '9999', '-1', '1.png', '../x', '99999'])}`, `/api/jobs/${id}/events`,
    rng.pick(STATIC_URLS),
  ]);
}

/** A UUID-shaped id from the rng (reproducible, unlike randomUUID). */
function randomUUIDFrom(rng: Rng): string {
  const h = rng.bytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

// ---- the child's server -------------------------------------------------------------------

interface Served {
  server: DiffuseServer;
  /** Strings no answer may contain: absolute paths of this machine, the canary. */
  secrets: string[];
}
let served: Promise<Served> | null = null;

async function serve(): Promise<Served> {
  const { dir, outside } = makeModelsDir();
  const root = dirname(dir);
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'canary.txt'), CANARY);
  writeFileSync(join(outside, 'canary.txt'), CANARY);
  const webDir = join(root, 'web');
  mkdirSync(webDir);
  writeFileSync(join(webDir, 'index.html'), '<!doctype html><title>diffuse</title>');
  writeFileSync(join(webDir, 'app.js'), 'console.log(1);');
  const server = await createServer({ modelsDir: dir, webDir, limits: LIMITS, previewEvery: 1 });
  const secrets = [root, packageRoot(), process.cwd(), `${tmpdir()}/`, CANARY, 'root:x:0:0'];
  return { server, secrets };
}

export const httpTarget: Target = {
  name: 'http',
  description: 'every route of the HTTP API: mutated and hostile bodies, uploads of every image kind, oversized bodies, odd methods, headers and URLs',
  timeoutMs: 45_000,
  async prepare(ctx: RunContext) {
    await imageCorpus(ctx);
  },
  async make(rng, caseDir, ctx, index): Promise<MadeCase> {
    const corpus = await imageCorpus(ctx);
    // The first cases go through every route once (mutated as any other case), so a short run covers them all.
    const [cover, coverModel] = (COVER[index]?.split('#') ?? []) as [string | undefined, string | undefined];
    const headers: Record<string, string> = {};
    let method = 'GET';
    let url: string;
    let body: Buffer | null = null;
    let foreignUpload: string | null = null;
    const notes: string[] = [];
    if (cover !== undefined ? cover.startsWith('/api/') && POST_ROUTES.includes(cover) : rng.chance(0.65)) {
      method = 'POST';
      url = cover ?? rng.pick(POST_ROUTES);
      const img = imageInput(rng, { ...corpus, bombs: [] });
      const mask = imageInput(rng, { ...corpus, bombs: [] });
      const b64 = (rng.chance(0.2) ? 'data:image/png;base64,' : '') + img.bytes.toString('base64');
      if (['gif', 'webp', 'tiff', 'svg', 'svg-huge'].includes(img.kind) && url !== '/api/generate') foreignUpload = img.kind;
      notes.push(`upload ${img.kind}`);
      let value: unknown = validBody(url, b64, mask.bytes.toString('base64'));
      if (coverModel !== undefined) (value as Record<string, unknown>)['model'] = coverModel;
      const mode = coverModel !== undefined ? 0 : rng.int(10);
      let text: string;
      if (mode < 3) text = JSON.stringify(value);
      else if (mode < 6) {
        const m = mutateJson(rng, value);
        text = m.text;
        notes.push(`body fields ${m.keys.slice(0, 4).join(', ') || 'root'} mutated`);
      } else if (mode === 6) {
        (value as Record<string, unknown>)['model'] = rng.pick(HOSTILE_NAMES);
        text = JSON.stringify(value);
        notes.push(`model ${JSON.stringify((value as Record<string, unknown>)['model'])}`);
      } else if (mode === 7) {
        text = mutateBytes(rng, Buffer.from(JSON.stringify(value)), null, 3).toString('latin1');
        notes.push('body bytes mutated');
      } else if (mode === 8) {
        const big = 'A'.repeat(rng.pick([LIMITS.maxUploadBytes + 1, 2 * LIMITS.maxUploadBytes, 1 << 21]));
        value = { ...(value as object), [rng.pick(['image', 'model', 'pad'])]: big };
        text = JSON.stringify(value);
        notes.push(`oversized body (${text.length} bytes)`);
      } else {
        text = rng.pick(['', 'null', '[]', '"x"', '1e999', '{"__proto__": {"model": "tiny"}}', '{"model": "tiny", "model": "escape"}', `{"model":"tiny","steps":${'['.repeat(5000)}`]);
        notes.push(`body ${JSON.stringify(text.slice(0, 40))}`);
      }
      body = Buffer.from(text, 'latin1');
      headers['content-type'] = rng.weighted([
        [8, 'application/json'],
        [1, 'text/plain'],
        [1, 'application/json; charset=utf-16'],
        [1, 'application/x-www-form-urlencoded'],
        [1, 'multipart/form-data; boundary=x'],
        [1, 'application/json, text/html'],
      ] as const);
    } else {
      url = cover ?? getUrl(rng);
      if (rng.chance(0.15)) {
        method = rng.pick(['POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD']);
        if (method !== 'HEAD' && method !== 'OPTIONS' && rng.chance(0.5)) {
          body = Buffer.from('{}');
          headers['content-type'] = 'application/json';
        }
      }
    }
    if (rng.chance(0.15)) {
      headers['host'] = rng.pick(['evil.example', 'evil.example:8080', '127.0.0.1.evil.example', 'localhost.evil.example', '0.0.0.0', '[::ffff:7f00:1]', 'LOCALHOST', '']);
      notes.push(`Host ${JSON.stringify(headers['host'])}`);
    }
    if (rng.chance(0.1)) headers['origin'] = rng.pick(['http://evil.example', 'null', 'file://']);
    if (rng.chance(0.1)) headers[rng.pick(['accept', 'x-forwarded-for', 'accept-encoding', 'range', 'if-none-match', 'cookie'])] = rng.pick([...EDGE_STRINGS.slice(0, 12), 'bytes=0-1,2-3', '*/*']);
    // An empty Host cannot be tested through inject (it sends localhost:80 instead): not counted as foreign here;
    // test/server/hardening.test.ts checks the allow-list refuses it.
    // A foreign Origin is refused on requests that change state; a cross-origin GET is answered
    // (the browser does not let the page read it: no CORS headers), as the server documents.
    const foreignHost = (headers['host'] !== undefined && headers['host'] !== '' && !LOOPBACK_HOST.test(headers['host'])) || (headers['origin'] === 'http://evil.example' && method !== 'GET' && method !== 'HEAD');
    if (body !== null) writeFileSync(join(caseDir, 'body.bin'), body);
    const spec: Spec = { method, url, headers, body: body === null ? null : 'body.bin', foreignUpload, foreignHost };
    return { spec, note: `${method} ${url.length > 80 ? `${url.slice(0, 80)}...` : url} ${notes.join(', ')}` };
  },
  async run(raw, caseDir): Promise<Violation[]> {
    const spec = raw as Spec;
    const { server, secrets } = await (served ??= serve());
    const app = server.app;
    const body = spec.body === null ? undefined : readFileSync(join(caseDir, spec.body));
    const what = `${spec.method} ${spec.url.slice(0, 100)}`;
    const res = await app.inject({ method: spec.method as 'GET', url: spec.url, headers: spec.headers, ...(body === undefined ? {} : { payload: body }) });
    const out = checkAnswer(spec, what, res, secrets);
    if (spec.foreignUpload !== null && res.statusCode === 202) out.push({ kind: 'http-format', detail: `a ${spec.foreignUpload} upload was accepted (202); only PNG and JPEG are documented — ${what}` });
    if (res.statusCode === 202 && spec.method === 'POST' && !spec.url.includes('/jobs/')) {
      const id = (JSON.parse(res.body) as { id?: string }).id;
      if (typeof id === 'string') {
        out.push(...(await waitJob(server, id, what)));
        // The finished job as a client sees it: its view and its result (a failed job's error must not leak paths either).
        for (const url of [`/api/jobs/${id}`, `/api/jobs/${id}/result`, `/api/jobs/${id}/events`]) {
          const follow = await app.inject({ method: 'GET', url });
          out.push(...checkAnswer({ ...spec, method: 'GET', url, foreignHost: false }, `${what} then GET ${url.replace(id, 'ID')}`, follow, secrets));
        }
      }
    }
    return out;
  },
};

/** The checks every answer gets: no 5xx, a 4xx with a message, no path or secret, a foreign Host refused, the security header. */
function checkAnswer(spec: Spec, what: string, res: { statusCode: number; body: string; headers: Record<string, unknown> }, secrets: readonly string[]): Violation[] {
  const out: Violation[] = [];
  const text = res.body;
  const headerText = JSON.stringify(res.headers);
  if (res.statusCode >= 500) out.push({ kind: 'http-5xx', detail: `${what}: ${res.statusCode} ${text.slice(0, 300)}` });
  if (res.statusCode >= 400 && res.statusCode < 500 && spec.method !== 'HEAD') {
    let message: unknown;
    try {
      const j = JSON.parse(text) as { error?: unknown; message?: unknown };
      message = j.error ?? j.message;
    } catch {
      message = text;
    }
    if (typeof message !== 'string' || message.trim() === '') out.push({ kind: 'http-no-message', detail: `${what}: ${res.statusCode} with body ${JSON.stringify(text.slice(0, 200))}` });
  }
  for (const s of secrets) {
    if (text.includes(s) || headerText.includes(s)) {
      const isPath = s.startsWith('/');
      out.push({ kind: isPath ? 'http-leak' : 'http-traversal', detail: `an answer holds ${isPath ? 'an absolute path' : 'a secret'} — ${what}: ${res.statusCode} ${text.slice(0, 300)}` });
    }
  }
  if (spec.foreignHost && res.statusCode < 400) {
    out.push({ kind: 'http-host', detail: `a request with a foreign Host or Origin header was served; expected a refusal (DNS rebinding, cross-site requests) — ${what} with Host ${JSON.stringify(spec.headers['host'] ?? null)}, Origin ${JSON.stringify(spec.headers['origin'] ?? null)}: ${res.statusCode}` });
  }
  // Every answer says nosniff, except an event stream (a browser never renders one as a document).
  const eventStream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
  if (!eventStream && res.headers['x-content-type-options'] !== 'nosniff') out.push({ kind: 'http-headers', detail: `an answer without X-Content-Type-Options: nosniff — ${what}: ${res.statusCode}` });
  return out;
}

/** Waits for an accepted job; an internal failure or no end in time is a violation. */
async function waitJob(server: DiffuseServer, id: string, what: string): Promise<Violation[]> {
  const t0 = Date.now();
  while (Date.now() - t0 < JOB_TIMEOUT_MS) {
    const job = server.store.get(id);
    if (job === undefined) return [];
    if (job.state === 'done' || job.state === 'cancelled') return [];
    if (job.state === 'failed') return job.errorKind === 'internal' ? [{ kind: 'job-internal', detail: `${what}: job failed with an internal error: ${job.error}` }] : [];
    await new Promise((r) => setTimeout(r, 20));
  }
  await server.queue.cancel(id).catch(() => {});
  return [{ kind: 'job-hang', detail: `${what}: the job did not finish in ${JOB_TIMEOUT_MS / 1000} s` }];
}

