/**
 * The server's hardening against a hostile client (issue 14, failure 8, and the server part of
 * "resource limits"): no answer carries a file-system path (errors name files relative to the
 * models folder; an unexpected error is a 500 with a request id, logged whole on stderr); every
 * answer carries the security headers; the Host allow-list (421) and the Origin check (403)
 * against DNS rebinding and cross-site posts; the optional token (401, and the web page's cookie);
 * uploads by signature (415 for GIF, WebP, TIFF, SVG, ...); body limits (413 naming the limit,
 * 415 for multipart); and the wall-clock limit per job (the job fails naming it; a thread that
 * does not stop is replaced). The oracle for "no path" is the set of absolute paths the server
 * knows: the models folder (as given and real), the package root, the temporary folder, home.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir, hostname, networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { request } from 'node:http';
import sharp from 'sharp';
import { createServer, startServer, type DiffuseServer } from '../../src/server/app.js';
import { JobStore } from '../../src/server/jobs.js';
import { SECURITY_HEADERS } from '../../src/server/security_headers.js';
import { maxBodyBytes } from '../../src/server/limits.js';
import { makeScrubber } from '../../src/server/scrub_paths.js';
import { packageRoot } from '../../src/io/package_root.js';
import { api, makeModelsDir, readSse, waitJob } from './helpers.js';

/** A raw HTTP request (fetch will not send a Host of our choosing): status, headers, body text. */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const pngOf = async (w: number, h: number): Promise<Buffer> => sharp(Buffer.alloc(w * h, 128), { raw: { width: w, height: h, channels: 1 } }).png().toBuffer();

describe('diffuse serve: hardening', () => {
  let server: DiffuseServer;
  let base: string;
  let modelsDir: string;
  let secrets: string[];
  const logged: string[] = [];
  /** Every answer body seen, for the no-path check at the end. */
  const seen: { what: string; text: string }[] = [];
  const see = (what: string, text: string): string => {
    seen.push({ what, text });
    return text;
  };

  before(async () => {
    modelsDir = makeModelsDir().dir;
    // Models that cannot be read: a config.json that is not JSON, an empty folder.
    mkdirSync(join(modelsDir, 'badjson', 'unet'), { recursive: true });
    writeFileSync(join(modelsDir, 'badjson', 'unet', 'config.json'), '{oops');
    writeFileSync(join(modelsDir, 'badjson', 'unet', 'diffusion_pytorch_model.safetensors'), 'x');
    mkdirSync(join(modelsDir, 'empty'));
    secrets = [modelsDir, realpathSync(modelsDir), dirname(modelsDir), packageRoot(), realpathSync(tmpdir()), tmpdir(), homedir(), process.cwd()].filter((p) => p.length > 1);
    const s = await startServer({ port: 0, modelsDir, limits: { maxUploadBytes: 64 * 1024, maxImageSide: 256 }, logError: (line) => logged.push(line) });
    server = s.server;
    base = s.url;
  });
  after(async () => server.close());

  it('errors and 404s name files relative to the models folder, never an absolute path (every route x hostile names)', async () => {
    let cases = 0;
    for (const name of ['badjson', 'empty', 'escape', 'nope', '..%2F..%2Fetc', '.hidden', 'a%2Fb', '%2Fetc%2Fpasswd']) {
      const r = await raw(base, 'GET', `/api/models/${name}`);
      see(`GET /api/models/${name}`, r.text);
      assert.ok(r.status >= 400 && r.status < 500, `${name}: ${r.status} ${r.text}`);
      cases++;
    }
    const bad = JSON.parse(seen.find((s) => s.what === 'GET /api/models/badjson')!.text) as { error: string };
    assert.match(bad.error, /model 'badjson'/);
    const empty = JSON.parse(seen.find((s) => s.what === 'GET /api/models/empty')!.text) as { error: string };
    assert.match(empty.error, /empty\/unet|the models folder/);
    const png = (await pngOf(8, 8)).toString('base64');
    for (const route of ['generate', 'img2img', 'inpaint', 'upscale', 'explain']) {
      for (const model of ['badjson', 'empty', 'escape', 'nope', '../tiny', '/etc/passwd', `${modelsDir}/tiny`]) {
        const body = { model, ...(route === 'generate' ? {} : { image: png }), ...(route === 'inpaint' ? { mask: png } : {}), ...(route === 'explain' ? { t: [1] } : { steps: 2 }) };
        const r = await api(base, 'POST', `/api/${route}`, body);
        see(`POST /api/${route} ${model}`, JSON.stringify(r.body));
        assert.ok(r.status === 400 || r.status === 404, `${route} ${model}: ${r.status} ${JSON.stringify(r.body)}`);
        cases++;
      }
    }
    for (const path of ['/etc/passwd', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/app.js/../../../etc/passwd', `/${modelsDir}/tiny/unet/config.json`, '/api/jobs/../../../etc/passwd', '/index.html%00.png', '/api/nope']) {
      const r = await raw(base, 'GET', path);
      see(`GET ${path}`, r.text);
      assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      cases++;
    }
    // A job whose weights are broken fails with the file named from the models folder, in its view and its SSE stream.
    const job = await api(base, 'POST', '/api/generate', { model: 'broken', steps: 2 });
    assert.equal(job.status, 202);
    const done = await waitJob(base, job.body['id'] as string);
    assert.equal(done['state'], 'failed');
    see('failed job', JSON.stringify(done));
    assert.match(done['error'] as string, /(^|\s)broken\/unet\/diffusion_pytorch_model\.safetensors/);
    const events = await readSse(`${base}/api/jobs/${job.body['id'] as string}/events`);
    see('failed job events', JSON.stringify(events));
    cases += 3;
    for (const { what, text } of seen) for (const p of secrets) assert.ok(!text.includes(p), `${what} shows the path ${p}: ${text}`);
    console.log(`# path leaks: ${cases} requests, ${secrets.length} secret paths checked`);
  });

  it('an unexpected error is a 500 with a request id and no message or path; the server log has it whole', async () => {
    const s = await createServer({ modelsDir, logError: (line) => logged.push(line) });
    s.app.get('/api/boom', async () => {
      throw new TypeError(`cannot read ${join(modelsDir, 'tiny', 'secret.bin')} from ${packageRoot()}/dist/x.js`);
    });
    try {
      const r = await s.app.inject({ method: 'GET', url: '/api/boom', headers: { host: '127.0.0.1:8080' } });
      assert.equal(r.statusCode, 500);
      const body = r.json<{ error: string; requestId: string }>();
      assert.match(body.error, /^internal error; the server's log has the details \(request [0-9a-f-]{36}\)$/);
      assert.ok(body.error.includes(body.requestId));
      for (const p of secrets) assert.ok(!r.body.includes(p), r.body);
      const line = logged.find((l) => l.includes(body.requestId));
      assert.ok(line !== undefined && line.includes('TypeError') && line.includes(join(modelsDir, 'tiny', 'secret.bin')), `log: ${logged.join('\n')}`);
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) assert.equal(r.headers[k], v, k);
    } finally {
      await s.close();
    }
    // A job's internal failure (a bug's stack): the client gets a reference, the log the stack.
    const store = new JobStore(10, { scrub: makeScrubber(modelsDir), logInternal: (l) => logged.push(l) });
    const j = store.create('generate', {});
    store.fail(j.id, `TypeError: x is undefined\n    at run (${packageRoot()}/dist/src/server/compute.js:1:2)`, 'internal');
    assert.match(store.get(j.id)!.error!, /^internal error while running the job; the server's log has the details \(job [0-9a-f-]{36}\)$/);
    assert.ok(logged.some((l) => l.includes(j.id) && l.includes('compute.js:1:2')));
  });

  it('the scrubber: models-folder paths become relative, other absolute paths their last part, URLs stay', () => {
    const scrub = makeScrubber(modelsDir);
    assert.equal(scrub(`${modelsDir}/tiny/unet/config.json: bad`), 'tiny/unet/config.json: bad');
    assert.equal(scrub(`no model in ${modelsDir}.`), 'no model in the models folder.');
    assert.equal(scrub(`'${realpathSync(modelsDir)}/x/y.safetensors'`), `'x/y.safetensors'`);
    assert.equal(scrub(`${modelsDir}2/x`), `…/x`);
    assert.equal(scrub(`at f (file://${packageRoot()}/dist/a.js:3:4)`), 'at f (…/a.js:3:4)');
    assert.equal(scrub('it only upscales (POST /api/upscale) at redis://127.0.0.1:6379/0'), 'it only upscales (POST /api/upscale) at redis://127.0.0.1:6379/0');
  });

  it('every answer carries the security headers: page, script, API, errors, 404, 421, event stream, PNG', async () => {
    const job = await api(base, 'POST', '/api/generate', { model: 'tiny', steps: 2 });
    await waitJob(base, job.body['id'] as string);
    const id = job.body['id'] as string;
    const paths: [string, string, Record<string, string>][] = [
      ['GET', '/', {}],
      ['GET', '/app.js', {}],
      ['GET', '/style.css', {}],
      ['GET', '/api/health', {}],
      ['GET', '/api/models', {}],
      ['GET', '/api/nope', {}],
      // A URL fastify cannot decode is answered before any hook (found by the fuzz suite).
      ['GET', '/%ff', {}],
      ['GET', '/api/jobs/not-an-id', {}],
      ['GET', `/api/jobs/${id}/events`, {}],
      ['GET', `/api/jobs/${id}/grid.png`, {}],
      ['GET', '/api/health', { host: 'evil.example' }],
      ['POST', '/api/generate', { origin: 'http://evil.example', 'content-type': 'application/json' }],
    ];
    for (const [method, path, headers] of paths) {
      const r = await raw(base, method, path, headers, method === 'POST' ? '{}' : undefined);
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) assert.equal(r.headers[k], v, `${method} ${path}: ${k}`);
    }
    console.log(`# security headers: ${paths.length} responses x ${Object.keys(SECURITY_HEADERS).length} headers`);
  });

  it('the Host allow-list: loopback names with any port pass, others get 421; --allowed-hosts adds names, * allows any', async () => {
    const port = new URL(base).port;
    for (const host of [`127.0.0.1:${port}`, 'localhost', `localhost:${port}`, 'LOCALHOST.:1', '[::1]', `[::1]:${port}`, '127.0.0.1']) {
      assert.equal((await raw(base, 'GET', '/api/health', { host })).status, 200, host);
    }
    const refused = ['evil.example', `evil.example:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io', '0.0.0.0', '[::2]', '127.0.0.2', 'localhost@evil', 'localhost:80@evil.example'];
    for (const host of refused) {
      const r = await raw(base, 'GET', '/api/health', { host });
      assert.equal(r.status, 421, `${host}: ${r.status}`);
      assert.match(r.text, /does not answer to the host name .*--allowed-hosts/);
    }
    // The page and the event stream are guarded too.
    assert.equal((await raw(base, 'GET', '/', { host: 'evil.example' })).status, 421);
    const s = await startServer({ port: 0, modelsDir, allowedHosts: ['diffuse.lan', '192.168.7.7'] });
    try {
      for (const host of ['diffuse.lan', 'DIFFUSE.LAN:8080', '192.168.7.7:1', 'localhost']) assert.equal((await raw(s.url, 'GET', '/api/health', { host })).status, 200, host);
      assert.equal((await raw(s.url, 'GET', '/api/health', { host: 'other.lan' })).status, 421);
    } finally {
      await s.server.close();
    }
    const any = await startServer({ port: 0, modelsDir, allowedHosts: ['*'] });
    try {
      assert.equal((await raw(any.url, 'GET', '/api/health', { host: 'anything.example' })).status, 200);
    } finally {
      await any.server.close();
    }
    // A server on every interface answers to this machine's name and addresses, and does not tell a refused client what they are.
    const wide = await createServer({ modelsDir, host: '0.0.0.0' });
    try {
      const addresses = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address)).filter((a) => a.includes('.') && !a.startsWith('127.'));
      for (const host of [hostname(), ...addresses]) assert.equal((await wide.app.inject({ method: 'GET', url: '/api/health', headers: { host } })).statusCode, 200, host);
      const no = await wide.app.inject({ method: 'GET', url: '/api/health', headers: { host: 'evil.example' } });
      assert.equal(no.statusCode, 421);
      for (const secret of [hostname(), ...addresses]) assert.ok(!no.body.includes(secret), `421 shows ${secret}`);
    } finally {
      await wide.close();
    }
    await assert.rejects(createServer({ modelsDir, allowedHosts: ['http://x.lan:80/'] }), /--allowed-hosts: 'http:\/\/x.lan:80\/' is not a host name/);
    console.log(`# host allow-list: ${7 + refused.length + 1 + 5 + 1} Host headers`);
  });

  it('a state-changing request from a foreign Origin is refused (403); the same origin and no Origin pass', async () => {
    const port = new URL(base).port;
    const body = JSON.stringify({ model: 'tiny', steps: 2 });
    const json = { 'content-type': 'application/json', host: `127.0.0.1:${port}` };
    const foreign = ['http://evil.example', `http://evil.example:${port}`, 'null', `http://127.0.0.1:${Number(port) + 1}`, `http://localhost:${port}`, 'file://', 'garbage'];
    for (const origin of foreign) {
      const r = await raw(base, 'POST', '/api/generate', { ...json, origin }, body);
      assert.equal(r.status, 403, `${origin}: ${r.status} ${r.text}`);
      assert.match(r.text, /cross-origin request refused/);
    }
    const del = await raw(base, 'DELETE', '/api/jobs/00000000-0000-0000-0000-000000000000', { host: `127.0.0.1:${port}`, origin: 'http://evil.example' });
    assert.equal(del.status, 403);
    // A text/plain "simple" POST (no preflight in a browser) is refused for its Origin before its type.
    assert.equal((await raw(base, 'POST', '/api/generate', { host: `127.0.0.1:${port}`, origin: 'http://evil.example', 'content-type': 'text/plain' }, body)).status, 403);
    assert.equal((await raw(base, 'POST', '/api/generate', { ...json, origin: `http://127.0.0.1:${port}` }, body)).status, 202);
    assert.equal((await raw(base, 'POST', '/api/generate', json, body)).status, 202);
    // Reading is not state-changing: a GET with a foreign Origin is answered (the browser keeps the answer from the page: no CORS headers).
    const get = await raw(base, 'GET', '/api/health', { host: `127.0.0.1:${port}`, origin: 'http://evil.example' });
    assert.equal(get.status, 200);
    assert.equal(get.headers['access-control-allow-origin'], undefined);
    console.log(`# origin check: ${foreign.length + 2} refused, 3 allowed`);
  });

  it('uploads are PNG or JPEG by signature: GIF, WebP, TIFF, SVG, BMP, AVIF get 415 naming the accepted formats, whatever the data: URL says', async () => {
    const img = sharp(Buffer.alloc(8 * 8 * 3, 90), { raw: { width: 8, height: 8, channels: 3 } });
    const files: [string, Buffer][] = [
      ['GIF', await img.clone().gif().toBuffer()],
      ['WebP', await img.clone().webp().toBuffer()],
      ['TIFF', await img.clone().tiff().toBuffer()],
      ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>')],
      ['SVG', Buffer.from('\uFEFF<?xml version="1.0"?>\n<!-- x -->\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>')],
      ['BMP', Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)])],
      ['AVIF', Buffer.concat([Buffer.from([0, 0, 0, 0x1c]), Buffer.from('ftypavif'), Buffer.alloc(40)])],
    ];
    let cases = 0;
    for (const [format, bytes] of files) {
      for (const prefix of ['', 'data:image/png;base64,', 'data:image/jpeg;base64,']) {
        const r = await api(base, 'POST', '/api/img2img', { model: 'tiny', steps: 2, image: prefix + bytes.toString('base64') });
        assert.equal(r.status, 415, `${format} ${prefix}: ${JSON.stringify(r.body)}`);
        assert.match(r.body['error'] as string, new RegExp(`'image' is a ${format} file; uploads must be PNG or JPEG`));
        cases++;
      }
    }
    const mask = await api(base, 'POST', '/api/inpaint', { model: 'tiny', steps: 2, image: (await pngOf(8, 8)).toString('base64'), mask: files[0]![1].toString('base64') });
    assert.equal(mask.status, 415);
    assert.match(mask.body['error'] as string, /'mask' is a GIF file/);
    // PNG and JPEG pass.
    const jpeg = await img.clone().jpeg().toBuffer();
    for (const ok of [await pngOf(8, 8), jpeg]) {
      const r = await api(base, 'POST', '/api/img2img', { model: 'tiny', steps: 2, image: `data:image/gif;base64,${ok.toString('base64')}` });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      await waitJob(base, r.body['id'] as string);
    }
    console.log(`# upload formats: ${cases + 1} refused, 2 accepted`);
  });

  it('body limits: 413 naming the limit before parsing, 413 per upload, 415 for multipart and other types', async () => {
    const limit = maxBodyBytes(server.limits);
    const huge = JSON.stringify({ model: 'tiny', image: 'A'.repeat(limit) });
    const r = await raw(base, 'POST', '/api/img2img', { 'content-type': 'application/json' }, huge);
    assert.equal(r.status, 413);
    assert.match(r.text, new RegExp(`larger than the limit of ${limit} bytes .*--max-upload ${64 * 1024}`));
    // One upload over --max-upload, inside the body limit.
    const big = await api(base, 'POST', '/api/inpaint', { model: 'tiny', image: 'A'.repeat(100 * 1024), mask: 'A' });
    assert.equal(big.status, 413);
    assert.match(big.body['error'] as string, /'image' is about 76800 bytes, more than the upload limit of 65536 bytes \(--max-upload\)/);
    // Two uploads near the limit fit in one body (inpaint): the body limit has room for both as base64 (it was --max-upload itself, so they could not).
    const noisy = await sharp({ create: { width: 128, height: 128, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    assert.ok(noisy.length > 40 * 1024 && noisy.length <= 64 * 1024, String(noisy.length));
    const two = await api(base, 'POST', '/api/inpaint', { model: 'tiny', steps: 2, image: noisy.toString('base64'), mask: `data:image/png;base64,${noisy.toString('base64')}` });
    assert.equal(two.status, 202, JSON.stringify(two.body));
    await waitJob(base, two.body['id'] as string);
    const boundary = 'xyz';
    const multipart = `--${boundary}\r\ncontent-disposition: form-data; name="image"; filename="a.png"\r\ncontent-type: image/png\r\n\r\n${'x'.repeat(100)}\r\n--${boundary}--\r\n`;
    const mp = await raw(base, 'POST', '/api/img2img', { 'content-type': `multipart/form-data; boundary=${boundary}` }, multipart);
    assert.equal(mp.status, 415);
    assert.match(mp.text, /takes JSON bodies .*not as multipart form uploads/);
    for (const type of ['application/x-www-form-urlencoded', 'application/octet-stream', 'image/png', 'application/xml']) {
      assert.equal((await raw(base, 'POST', '/api/generate', { 'content-type': type }, 'model=tiny')).status, 415, type);
    }
    // text/plain is read as a string, which the schema refuses.
    assert.equal((await raw(base, 'POST', '/api/generate', { 'content-type': 'text/plain' }, 'model=tiny')).status, 400);
    // Deeply nested JSON within the limit: a 400, not a crash.
    const deep = '['.repeat(50_000) + ']'.repeat(50_000);
    const d = await raw(base, 'POST', '/api/generate', { 'content-type': 'application/json' }, deep);
    assert.equal(d.status, 400, d.text);
    assert.equal((await api(base, 'GET', '/api/health')).status, 200);
    console.log('# body limits: 9 hostile bodies, 1 accepted (two uploads near the limit)');
  });

  it('the token: 401 without it or with a wrong one; Bearer and the page cookie pass; ?token= on the page sets the cookie and leaves the address', async () => {
    const token = '0123456789abcdef0123456789abcdef';
    const s = await startServer({ port: 0, modelsDir, token });
    try {
      const none = await raw(s.url, 'GET', '/api/health');
      assert.equal(none.status, 401);
      assert.equal(none.headers['www-authenticate'], 'Bearer');
      assert.match(none.text, /needs its token: send 'Authorization: Bearer TOKEN', or open http:\/\/HOST:PORT\/\?token=TOKEN/);
      for (const headers of [{ authorization: 'Bearer wrong-token-wrong-token' }, { authorization: `Basic ${token}` }, { authorization: `Bearer ${token}x` }, { cookie: 'diffuse_token=nope' }]) {
        const r = await raw(s.url, 'GET', '/api/health', headers);
        assert.equal(r.status, 401, JSON.stringify(headers));
        assert.ok(!r.text.includes(token));
      }
      assert.equal((await raw(s.url, 'GET', '/', {})).status, 401);
      assert.equal((await raw(s.url, 'GET', '/api/health', { authorization: `Bearer ${token}` })).status, 200);
      assert.equal((await raw(s.url, 'GET', '/api/health', { cookie: `other=1; diffuse_token=${token}` })).status, 200);
      assert.equal((await raw(s.url, 'GET', `/api/health?token=${token}`)).status, 200);
      // The page opened with the token: a cookie for the page's own requests, and the address without it.
      const page = await raw(s.url, 'GET', `/?token=${token}&x=1`);
      assert.equal(page.status, 303);
      assert.equal(page.headers['location'], '/?x=1');
      const cookie = String(page.headers['set-cookie']);
      assert.match(cookie, new RegExp(`^diffuse_token=${token}; Path=/; HttpOnly; SameSite=Strict`));
      const again = await raw(s.url, 'GET', '/', { cookie: cookie.split(';')[0]! });
      assert.ok(again.status === 200 || again.status === 503, String(again.status));
      const job = await raw(s.url, 'POST', '/api/generate', { cookie: cookie.split(';')[0]!, 'content-type': 'application/json' }, JSON.stringify({ model: 'tiny', steps: 2 }));
      assert.equal(job.status, 202, job.text);
      const id = (JSON.parse(job.text) as { id: string }).id;
      const events = await raw(s.url, 'GET', `/api/jobs/${id}/events`, { cookie: cookie.split(';')[0]! });
      assert.equal(events.status, 200);
      assert.match(events.text, /event: state/);
    } finally {
      await s.server.close();
    }
    await assert.rejects(createServer({ modelsDir, token: 'short' }), /--token must be at least 16 characters .*openssl rand -hex 16/);
    await assert.rejects(createServer({ modelsDir, token: '0123456789abcdef; x=1' }), /--token must be at least 16 characters of letters/);
    console.log('# token: 6 requests refused, 2 bad tokens refused at start, 7 requests accepted');
  });

  it('a job past --job-timeout fails naming the limit; a thread that does not stop in time is replaced and the next job runs', async () => {
    // Both a job that stops at its next step (grace 10 s) and one whose thread is terminated at once (grace 0).
    for (const stopGraceMs of [10_000, 0]) {
      const s = await startServer({ port: 0, modelsDir, limits: { jobTimeoutSeconds: 1 }, stopGraceMs, logError: (l) => logged.push(l) });
      try {
        assert.equal((await api(s.url, 'GET', '/api/limits')).body['jobTimeoutSeconds'], 1);
        const t0 = Date.now();
        const long = await api(s.url, 'POST', '/api/generate', { model: 'tiny', steps: 1000, n: 16, sampler: 'ddpm' });
        assert.equal(long.status, 202);
        const failed = await waitJob(s.url, long.body['id'] as string, 30_000);
        const took = Date.now() - t0;
        assert.equal(failed['state'], 'failed', JSON.stringify(failed));
        assert.match(failed['error'] as string, /ran longer than the server's job time limit of 1 s \(--job-timeout\) and was stopped/);
        assert.ok(took >= 1000 && took < 20_000, `took ${took} ms`);
        const next = await api(s.url, 'POST', '/api/generate', { model: 'tiny', steps: 2 });
        assert.equal((await waitJob(s.url, next.body['id'] as string, 60_000))['state'], 'done', `grace ${stopGraceMs}`);
      } finally {
        await s.server.close();
      }
    }
  });
});
