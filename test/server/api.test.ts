/**
 * The HTTP API against a real server on loopback, with the tiny 8x8 test U-Net: every endpoint,
 * validation errors, path traversal, upload limits, the bounded queue (429), cancellation, and
 * the SSE stream. Oracle for the images: the library's generate() with the same settings.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { startServer, type DiffuseServer } from '../../src/server/app.js';
import { UNet2DModel } from '../../src/nn/unet_2d.js';
import { readSchedulerConfig } from '../../src/io/checkpoint.js';
import { decodeImage } from '../../src/io/png.js';
import { generate } from '../../src/pipelines/generate.js';
import { img2img } from '../../src/pipelines/img2img.js';
import { loadSuperresModel, upscale } from '../../src/pipelines/superres.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { api, makeModelsDir, readSse, waitJob, type SseEvent } from './helpers.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const pngBase64 = async (w: number, h: number, value = 128, channels: 1 | 3 = 1): Promise<string> =>
  (await sharp(Buffer.alloc(w * h * channels, value), { raw: { width: w, height: h, channels } }).png().toBuffer()).toString('base64');

describe('diffuse serve: HTTP API', () => {
  let server: DiffuseServer;
  let base: string;
  let modelsDir: string;

  before(async () => {
    modelsDir = makeModelsDir().dir;
    const s = await startServer({ port: 0, modelsDir, limits: { queueSize: 1, maxSteps: 1000, maxImages: 16, maxUploadBytes: 64 * 1024, maxImageSide: 256 }, previewEvery: 2 });
    server = s.server;
    base = s.url;
  });
  after(async () => server.close());

  it('lists models with their configs, samplers, limits and health', async () => {
    const models = await api(base, 'GET', '/api/models');
    assert.equal(models.status, 200);
    const list = models.body['models'] as { name: string; numClasses: number; guidance: boolean; sampleSize: number[]; config: Record<string, unknown> }[];
    // 'escape' (a link out of the folder) is not offered.
    assert.deepEqual(list.map((m) => m.name), ['broken', 'tiny', 'tiny-sr', 'tiny-uncond']);
    assert.equal(list[1]!.numClasses, 3);
    assert.equal(list[1]!.guidance, true);
    assert.deepEqual(list[1]!.sampleSize, [8, 8]);
    assert.equal(list[1]!.config['num_class_embeds'], 4);
    assert.equal(list[3]!.numClasses, 0);
    const sr = list[2] as unknown as { task: string; scale: number; channels: number };
    assert.deepEqual([sr.task, sr.scale, sr.channels], ['superres', 2, 1]);
    assert.equal((list[1] as unknown as { task: string }).task, 'generate');
    assert.deepEqual((list[1] as unknown as { defaults: unknown }).defaults, { guidance: 1, sampler: null, steps: null }); // no sampling_config.json
    const one = await api(base, 'GET', '/api/models/tiny');
    assert.equal(one.status, 200);
    assert.equal(one.body['name'], 'tiny');
    const samplers = await api(base, 'GET', '/api/samplers');
    assert.ok((samplers.body['names'] as string[]).includes('ddim') && (samplers.body['names'] as string[]).includes('dpmpp_2m'));
    const limits = await api(base, 'GET', '/api/limits');
    assert.equal(limits.body['queueSize'], 1);
    const health = await api(base, 'GET', '/api/health');
    assert.equal(health.status, 200);
    assert.equal((health.body['queue'] as { mode: string }).mode, 'local');
  });

  it('refuses model names that leave the models folder', async () => {
    for (const path of ['/api/models/..%2F..%2Fetc', '/api/models/.hidden', '/api/models/a%2Fb']) {
      const r = await api(base, 'GET', path);
      assert.equal(r.status, 400, path);
    }
    const link = await api(base, 'GET', '/api/models/escape');
    assert.equal(link.status, 404);
    assert.match(link.body['error'] as string, /outside the models folder/);
    for (const model of ['../tiny', '/etc/passwd', 'tiny/../../x', '..']) {
      const r = await api(base, 'POST', '/api/generate', { model, steps: 2 });
      assert.equal(r.status, 400, model);
    }
    const escape = await api(base, 'POST', '/api/generate', { model: 'escape', steps: 2 });
    assert.equal(escape.status, 404);
    const missing = await api(base, 'POST', '/api/generate', { model: 'nope', steps: 2 });
    assert.equal(missing.status, 404);
    assert.match(missing.body['error'] as string, /no model 'nope'.*tiny/);
  });

  it('answers bad requests with 4xx and a message', async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /model/],
      [{ model: 'tiny', steps: 0 }, /steps/],
      [{ model: 'tiny', steps: 1001 }, /steps/],
      [{ model: 'tiny', steps: '5' }, /steps/], // no type coercion
      [{ model: 'tiny', n: 17 }, /n/],
      [{ model: 'tiny', sampler: 'magic' }, /sampler/],
      [{ model: 'tiny', seed: -1 }, /seed/],
      [{ model: 'tiny', bogus: 1 }, /additional/],
      [{ model: 'tiny', classLabel: 3 }, /classLabel 3 is out of range.*0\.\.2/],
      [{ model: 'tiny-uncond', classLabel: 0 }, /unconditional/],
      [{ model: 'tiny-uncond', guidance: 3 }, /guidance/],
      [{ model: 'tiny', guidance: Number.MAX_VALUE }, /guidance/],
    ];
    for (const [body, re] of cases) {
      const r = await api(base, 'POST', '/api/generate', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body['error'] as string, re, JSON.stringify(body));
    }
    const broken = await api(base, 'POST', '/api/generate', '{"model": "tiny",');
    assert.equal(broken.status, 400);
    const form = await fetch(`${base}/api/generate`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'model=tiny' });
    assert.equal(form.status, 415);
    assert.equal((await api(base, 'GET', '/api/jobs/00000000-0000-0000-0000-000000000000')).status, 404);
    assert.equal((await api(base, 'GET', '/api/jobs/not-an-id')).status, 400);
    assert.equal((await api(base, 'POST', '/api/jobs/00000000-0000-0000-0000-000000000000/cancel')).status, 404);
    // The server is still up.
    assert.equal((await api(base, 'GET', '/api/health')).status, 200);
  });

  it('generates: 202, SSE progress with previews, the images generate() makes', async () => {
    const params = { model: 'tiny', sampler: 'ddim', steps: 4, n: 2, seed: 7, classLabel: 1, guidance: 2 };
    const r = await api(base, 'POST', '/api/generate', params);
    assert.equal(r.status, 202);
    const id = r.body['id'] as string;
    assert.ok(['queued', 'running'].includes(r.body['state'] as string));
    const events = await readSse(`${base}/api/jobs/${id}/events`);
    const steps = events.filter((e) => e.event === 'progress').map((e) => (e.data as { step: number }).step);
    // Every step after the stream opened, in order, ending at the last.
    assert.ok(steps.length >= 1);
    for (let i = 1; i < steps.length; i++) assert.equal(steps[i], steps[i - 1]! + 1);
    assert.equal(steps.at(-1), 4);
    const last = events.filter((e) => e.event === 'progress').at(-1)!.data as { total: number; preview: { x0: string; xt: string } };
    assert.equal(last.total, 4);
    assert.match(last.preview.x0, /^data:image\/png;base64,/);
    assert.deepEqual(events.at(-1), { event: 'state', data: { state: 'done' } } satisfies SseEvent);

    const res = await api(base, 'GET', `/api/jobs/${id}/result`);
    assert.equal(res.status, 200);
    const result = res.body['result'] as { images: string[]; classLabels: number[]; timeline: { stepIndex: number[]; xt: string[]; x0: string[] } };
    assert.equal(result.images.length, 2);
    assert.deepEqual(result.classLabels, [1, 1]);
    assert.deepEqual(result.timeline.stepIndex, [0, 1, 2, 3, 4]);
    assert.equal(result.timeline.x0.length, 5);

    // Oracle: the library with the same settings, quantized to 8 bits as the PNG is.
    const model = UNet2DModel.fromPretrained(join(modelsDir, 'tiny', 'unet'));
    const schedulerConfig = readSchedulerConfig(join(modelsDir, 'tiny', 'scheduler'));
    const want = generate({ model, scheduler: 'ddim', schedulerConfig, n: 2, steps: 4, seed: 7, classLabels: 1, guidanceScale: 2 }).images;
    for (let i = 0; i < 2; i++) {
      const got = await decodeImage(Buffer.from(result.images[i]!.split(',')[1]!, 'base64'));
      assert.deepEqual([got.height, got.width, got.channels], [8, 8, 1]);
      let maxErr = 0;
      for (let k = 0; k < 64; k++) maxErr = Math.max(maxErr, Math.abs(got.data[k]! - hostBuffer(want)[i * 64 + k]!));
      assert.ok(maxErr <= 1.01 / 127.5, `image ${i}: max error ${maxErr}`);
    }
    const png = await fetch(`${base}/api/jobs/${id}/images/1.png`);
    assert.equal(png.status, 200);
    assert.equal(png.headers.get('content-type'), 'image/png');
    assert.equal((await fetch(`${base}/api/jobs/${id}/images/2.png`)).status, 404);
    assert.equal((await fetch(`${base}/api/jobs/${id}/grid.png`)).status, 200);
    const list = await api(base, 'GET', '/api/jobs');
    assert.ok((list.body['jobs'] as { id: string }[]).some((j) => j.id === id));
    // A finished job cannot be cancelled.
    assert.equal((await api(base, 'POST', `/api/jobs/${id}/cancel`)).status, 409);
  });

  it('a job that fails in the worker ends failed with its message, and the server goes on', async () => {
    // 'broken' has a valid config.json but a weights file that is not safetensors.
    const r = await api(base, 'POST', '/api/generate', { model: 'broken', steps: 2 });
    assert.equal(r.status, 202);
    const events = await readSse(`${base}/api/jobs/${r.body['id'] as string}/events`);
    const last = events.at(-1)!.data as { state: string; error: string };
    assert.equal(last.state, 'failed');
    assert.match(last.error, /safetensors|header/i);
    const ok = await api(base, 'POST', '/api/generate', { model: 'tiny', steps: 2 });
    assert.equal((await waitJob(base, ok.body['id'] as string))['state'], 'done');
  });

  it('bounded queue: 429 when full; cancel a queued and a running job; the event loop keeps answering', async () => {
    // A long job (1000 DDPM steps of 16 images) holds the only compute thread.
    const long = await api(base, 'POST', '/api/generate', { model: 'tiny', sampler: 'ddpm', steps: 1000, n: 16 });
    assert.equal(long.status, 202);
    const longId = long.body['id'] as string;
    const controller = new AbortController();
    const longEvents = readSse(`${base}/api/jobs/${longId}/events`, controller.signal);
    const until = Date.now() + 60_000;
    for (;;) {
      const j = await api(base, 'GET', `/api/jobs/${longId}`);
      if (j.body['state'] === 'running' && j.body['progress'] !== null) break;
      assert.ok(['queued', 'running'].includes(j.body['state'] as string) && Date.now() < until, `the long job did not start: ${JSON.stringify(j.body)}`);
      await new Promise((res) => setTimeout(res, 20));
    }
    const queued = await api(base, 'POST', '/api/generate', { model: 'tiny', steps: 3 });
    assert.equal(queued.status, 202);
    assert.equal(queued.body['state'], 'queued');
    const full = await api(base, 'POST', '/api/generate', { model: 'tiny', steps: 3 });
    assert.equal(full.status, 429);
    assert.match(full.body['error'] as string, /queue is full/);
    // The event loop answers while the job computes on its thread.
    const health = await api(base, 'GET', '/api/health');
    assert.deepEqual(health.body['queue'], { mode: 'local', queued: 1, running: 1, capacity: 1, workers: 1 });
    assert.equal((await api(base, 'GET', `/api/jobs/${longId}`)).body['state'], 'running');

    const c1 = await api(base, 'POST', `/api/jobs/${queued.body['id'] as string}/cancel`);
    assert.equal(c1.status, 202);
    assert.equal(c1.body['state'], 'cancelled');
    const c2 = await api(base, 'DELETE', `/api/jobs/${longId}`);
    assert.equal(c2.status, 202);
    const events = await longEvents;
    assert.deepEqual(events.at(-1), { event: 'state', data: { state: 'cancelled' } });
    const lastStep = (events.filter((e) => e.event === 'progress').at(-1)!.data as { step: number }).step;
    assert.ok(lastStep < 1000, `cancelled at step ${lastStep}`);
    assert.equal((await api(base, 'GET', `/api/jobs/${longId}/result`)).status, 409);
    // The thread is free again.
    const after = await api(base, 'POST', '/api/generate', { model: 'tiny', steps: 2 });
    assert.equal(after.status, 202);
    assert.equal((await waitJob(base, after.body['id'] as string))['state'], 'done');
  });

  it('uploads: size and dimension limits, bad images; every editing kind runs', async () => {
    const big = 'A'.repeat(100 * 1024);
    const tooBig = await api(base, 'POST', '/api/img2img', { model: 'tiny', image: big });
    assert.equal(tooBig.status, 413);
    const wide = await api(base, 'POST', '/api/img2img', { model: 'tiny', image: await pngBase64(300, 2) });
    assert.equal(wide.status, 413);
    assert.match(wide.body['error'] as string, /300x2 pixels, larger than the limit of 256/);
    const junk = await api(base, 'POST', '/api/img2img', { model: 'tiny', image: Buffer.from('not an image').toString('base64') });
    assert.equal(junk.status, 400);
    assert.match(junk.body['error'] as string, /not a PNG or JPEG/);
    // A whole header with half the pixel data: the upload's fault, a 400 naming the field (it was a 500).
    const noise = Buffer.from(Array.from({ length: 64 * 64 }, (_, i) => (i * 7919) % 251));
    const png = await sharp(noise, { raw: { width: 64, height: 64, channels: 1 } }).png().toBuffer();
    const truncated = await api(base, 'POST', '/api/img2img', { model: 'tiny', image: png.subarray(0, png.length >> 1).toString('base64') });
    assert.equal(truncated.status, 400, JSON.stringify(truncated.body));
    assert.match(truncated.body['error'] as string, /'image' (cannot be decoded|is not a PNG or JPEG)/);
    const noMask = await api(base, 'POST', '/api/inpaint', { model: 'tiny', image: await pngBase64(8, 8) });
    assert.equal(noMask.status, 400);
    const badT = await api(base, 'POST', '/api/explain', { model: 'tiny', image: await pngBase64(8, 8), t: [1000] });
    assert.equal(badT.status, 400);
    const health = (await api(base, 'GET', '/api/health')).body as { kinds: string[] };
    assert.deepEqual(health.kinds, ['generate', 'inpaint', 'img2img', 'upscale', 'explain']);
    for (const [kind, extra] of [
      ['inpaint', { mask: await pngBase64(8, 8, 255) }],
      ['img2img', { strength: 0.5 }],
      ['upscale', { model: 'tiny-sr' }],
      ['explain', { t: [0, 500, 999] }],
    ] as const) {
      const r = await api(base, 'POST', `/api/${kind}`, { model: 'tiny', ...(kind === 'explain' ? {} : { steps: 3 }), image: `data:image/png;base64,${await pngBase64(16, 16, 200, 3)}`, ...extra });
      assert.equal(r.status, 202, kind);
      // An RGB upload to a grey model: converted (and resized), and the job runs.
      assert.equal((await waitJob(base, r.body['id'] as string))['state'], 'done', kind);
    }
    // Upscale needs a super-resolution model, and such a model does nothing else.
    const notSr = await api(base, 'POST', '/api/upscale', { model: 'tiny', steps: 3, image: await pngBase64(4, 4) });
    assert.equal(notSr.status, 400);
    assert.match(notSr.body['error'] as string, /'tiny' is not a super-resolution model/);
    const srGen = await api(base, 'POST', '/api/generate', { model: 'tiny-sr', steps: 3 });
    assert.equal(srGen.status, 400);
    assert.match(srGen.body['error'] as string, /super-resolution model: it only upscales/);
  });

  it('upscale equals the library: 4x4 in, 8x8 out', async () => {
    const pixels = Buffer.from(Array.from({ length: 16 }, (_, i) => i * 16));
    const image = (await sharp(pixels, { raw: { width: 4, height: 4, channels: 1 } }).png().toBuffer()).toString('base64');
    const r = await api(base, 'POST', '/api/upscale', { model: 'tiny-sr', image, steps: 4, seed: 5, sampler: 'ddim' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal((await waitJob(base, r.body['id'] as string))['state'], 'done');
    const got = (await api(base, 'GET', `/api/jobs/${r.body['id'] as string}/result`)).body['result'] as { images: string[] };
    const img = await decodeImage(Buffer.from(got.images[0]!.split(',')[1]!, 'base64'));
    assert.deepEqual([img.height, img.width, img.channels], [8, 8, 1]);
    const m = loadSuperresModel(join(modelsDir, 'tiny-sr'));
    const lr = new Tensor(Float32Array.from(pixels, (b) => b / 127.5 - 1), [1, 4, 4, 1]);
    const want = upscale({ model: m.model, schedulerConfig: m.schedulerConfig, scale: m.scale, image: lr, scheduler: 'ddim', steps: 4, seed: 5 }).images;
    let maxErr = 0;
    for (let k = 0; k < 64; k++) maxErr = Math.max(maxErr, Math.abs(img.data[k]! - Math.min(1, Math.max(-1, hostBuffer(want)[k]!))));
    assert.ok(maxErr <= 1.01 / 127.5, `upscale: max error ${maxErr}`);
  });

  it('inpaint keeps every pixel outside the painted mask; img2img equals the library', async () => {
    // An 8x8 gradient; the mask paints (white) the top-left 4x4 block only.
    const pixels = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 4) % 256));
    const image = (await sharp(pixels, { raw: { width: 8, height: 8, channels: 1 } }).png().toBuffer()).toString('base64');
    const maskPixels = Buffer.from(Array.from({ length: 64 }, (_, i) => (i % 8 < 4 && i < 32 ? 255 : 0)));
    const mask = (await sharp(maskPixels, { raw: { width: 8, height: 8, channels: 1 } }).png().toBuffer()).toString('base64');
    const r = await api(base, 'POST', '/api/inpaint', { model: 'tiny', image, mask, steps: 5, seed: 3 });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const job = await waitJob(base, r.body['id'] as string);
    assert.equal(job['state'], 'done', String(job['error']));
    const res = await api(base, 'GET', `/api/jobs/${r.body['id'] as string}/result`);
    const out = await decodeImage(Buffer.from((res.body['result'] as { images: string[] }).images[0]!.split(',')[1]!, 'base64'));
    let changedInside = 0;
    for (let i = 0; i < 64; i++) {
      const byte = Math.round(((out.data[i]! + 1) / 2) * 255);
      if (maskPixels[i] === 0) assert.equal(byte, pixels[i], `known pixel ${i} changed`);
      else if (byte !== pixels[i]) changedInside++;
    }
    assert.ok(changedInside > 0, 'the painted region was not regenerated');

    const body = { model: 'tiny', image, strength: 0.5, steps: 6, seed: 4, sampler: 'ddim' };
    const j = await api(base, 'POST', '/api/img2img', body);
    assert.equal(j.status, 202);
    assert.equal((await waitJob(base, j.body['id'] as string))['state'], 'done');
    const got = (await api(base, 'GET', `/api/jobs/${j.body['id'] as string}/result`)).body['result'] as { images: string[] };
    const model = UNet2DModel.fromPretrained(join(modelsDir, 'tiny', 'unet'));
    const schedulerConfig = readSchedulerConfig(join(modelsDir, 'tiny', 'scheduler'));
    // An upload of the model's size is used as it is: bytes b -> b / 127.5 - 1.
    const src = Float32Array.from(pixels, (b) => b / 127.5 - 1);
    const want = img2img({ model, schedulerConfig, scheduler: 'ddim', image: new Tensor(src, [1, 8, 8, 1]), strength: 0.5, steps: 6, seed: 4 }).images;
    const img = await decodeImage(Buffer.from(got.images[0]!.split(',')[1]!, 'base64'));
    let maxErr = 0;
    for (let k = 0; k < 64; k++) maxErr = Math.max(maxErr, Math.abs(img.data[k]! - hostBuffer(want)[k]!));
    assert.ok(maxErr <= 1.01 / 127.5, `img2img: max error ${maxErr}`);
  });

  it('explain: x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps, x_0 itself at abar ~ 1, SNR = abar / (1 - abar)', async () => {
    const pixels = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 4) % 256));
    const image = (await sharp(pixels, { raw: { width: 8, height: 8, channels: 1 } }).png().toBuffer()).toString('base64');
    const r = await api(base, 'POST', '/api/explain', { model: 'tiny', image, t: [0, 500, 999], seed: 1 });
    assert.equal(r.status, 202);
    assert.equal((await waitJob(base, r.body['id'] as string))['state'], 'done');
    const f = ((await api(base, 'GET', `/api/jobs/${r.body['id'] as string}/result`)).body['result'] as { forward: { t: number[]; snr: number[]; alphaBar: number[]; frames: string[] } }).forward;
    assert.deepEqual(f.t, [0, 500, 999]);
    assert.equal(f.frames.length, 3);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(f.snr[i]! - f.alphaBar[i]! / (1 - f.alphaBar[i]!)) <= 1e-6 * f.snr[i]!);
    assert.ok(f.snr[0]! > f.snr[1]! && f.snr[1]! > f.snr[2]!);
    // At t = 0 (abar = 1 - 1e-4) the frame is the image up to a 1% noise: within 8 grey levels.
    const x = await decodeImage(Buffer.from(f.frames[0]!.split(',')[1]!, 'base64'));
    for (let k = 0; k < 64; k++) assert.ok(Math.abs(x.data[k]! - (pixels[k]! / 127.5 - 1)) < 8 / 127.5, `pixel ${k}`);
  });

  it('serves the web page or says how to build it', async () => {
    const r = await fetch(`${base}/`);
    assert.ok(r.status === 200 || r.status === 503);
    const text = await r.text();
    if (r.status === 200) assert.match(text, /<html/i);
    else assert.match(text, /npm run build:web/);
  });
});
