/**
 * Scale-out through Redis: a private redis-server (spawned here, no persistence), a server with
 * --queue redis://..., and two `diffuse worker` processes. Jobs complete with the images the
 * library makes, both workers take jobs, SSE progress and previews come back through BullMQ,
 * a running job is cancelled through the workers' channel, the queue bound answers 429, and the
 * server's --job-timeout reaches the workers with each job.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startServer, type DiffuseServer } from '../../src/server/app.js';
import { UNet2DModel } from '../../src/nn/unet_2d.js';
import { readSchedulerConfig } from '../../src/io/checkpoint.js';
import { decodeImage } from '../../src/io/png.js';
import { generate } from '../../src/pipelines/generate.js';
import { api, makeModelsDir, readSse, spawnDiffuse, startRedis, stop, waitJob, waitOutput } from './helpers.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

describe('diffuse serve --queue redis:// with two diffuse worker processes', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let server: DiffuseServer;
  let base: string;
  let modelsDir: string;
  const workers: ChildProcess[] = [];
  const logs: string[] = ['', ''];

  before(async () => {
    redis = await startRedis();
    modelsDir = makeModelsDir().dir;
    for (let i = 0; i < 2; i++) {
      const w = spawnDiffuse(['worker', '--queue', redis.url, '--models', modelsDir]);
      w.stdout!.on('data', (d: Buffer) => (logs[i] += d.toString()));
      workers.push(w);
    }
    await Promise.all(workers.map((w) => waitOutput(w, /ready/)));
    const s = await startServer({ port: 0, modelsDir, queue: redis.url, limits: { queueSize: 2 }, previewEvery: 1 });
    server = s.server;
    base = s.url;
  });
  after(async () => {
    await server?.close();
    await Promise.all(workers.map(stop));
    await redis?.kill();
  });

  it('runs jobs on both workers; results equal generate()', async () => {
    const health = await api(base, 'GET', '/api/health');
    assert.equal((health.body['queue'] as { mode: string }).mode, 'redis');
    const params = (seed: number) => ({ model: 'tiny', sampler: 'ddpm', steps: 60, n: 2, seed, classLabel: 2 });
    const ids: string[] = [];
    // Two rounds of two: each worker is busy with one while the other takes the next.
    for (let round = 0; round < 2; round++) {
      const batch = await Promise.all([0, 1].map((k) => api(base, 'POST', '/api/generate', params(round * 2 + k))));
      for (const r of batch) assert.equal(r.status, 202, JSON.stringify(r.body));
      ids.push(...batch.map((r) => r.body['id'] as string));
      for (const id of ids.slice(-2)) assert.equal((await waitJob(base, id))['state'], 'done');
    }
    // Both processes did work.
    for (const [i, log] of logs.entries()) assert.match(log, /: done/, `worker ${i} ran no job: ${log}`);

    const model = UNet2DModel.fromPretrained(join(modelsDir, 'tiny', 'unet'));
    const schedulerConfig = readSchedulerConfig(join(modelsDir, 'tiny', 'scheduler'));
    const res = await api(base, 'GET', `/api/jobs/${ids[3]!}/result`);
    const images = (res.body['result'] as { images: string[] }).images;
    const want = generate({ model, scheduler: 'ddpm', schedulerConfig, n: 2, steps: 60, seed: 3, classLabels: 2 }).images;
    for (let i = 0; i < 2; i++) {
      const got = await decodeImage(Buffer.from(images[i]!.split(',')[1]!, 'base64'));
      let maxErr = 0;
      for (let k = 0; k < 64; k++) maxErr = Math.max(maxErr, Math.abs(got.data[k]! - hostBuffer(want)[i * 64 + k]!));
      assert.ok(maxErr <= 1.01 / 127.5, `image ${i}: max error ${maxErr}`);
    }
  });

  it('streams progress with previews over SSE, cancels a running job, answers 429 beyond the queue', async () => {
    const a = await api(base, 'POST', '/api/generate', { model: 'tiny', sampler: 'ddpm', steps: 1000, n: 16, seed: 1 });
    const b = await api(base, 'POST', '/api/generate', { model: 'tiny', sampler: 'ddpm', steps: 1000, n: 16, seed: 2 });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    const events = readSse(`${base}/api/jobs/${a.body['id'] as string}/events`);
    // Wait until both run (one per worker), then fill the queue (2) and overflow it.
    const until = Date.now() + 60_000;
    for (const id of [a.body['id'], b.body['id']] as string[]) {
      for (;;) {
        const j = await api(base, 'GET', `/api/jobs/${id}`);
        if (j.body['state'] === 'running' && j.body['progress'] !== null) break;
        assert.ok(['queued', 'running'].includes(j.body['state'] as string) && Date.now() < until, `job ${id} did not start: ${JSON.stringify(j.body)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    const q1 = await api(base, 'POST', '/api/generate', { model: 'tiny', steps: 2 });
    const q2 = await api(base, 'POST', '/api/generate', { model: 'tiny', steps: 2 });
    const q3 = await api(base, 'POST', '/api/generate', { model: 'tiny', steps: 2 });
    assert.deepEqual([q1.status, q2.status, q3.status], [202, 202, 429]);
    // Cancel a waiting job (removed from Redis) and both running ones (through the workers' channel).
    const c = await api(base, 'POST', `/api/jobs/${q2.body['id'] as string}/cancel`);
    assert.equal(c.status, 202);
    assert.equal((await waitJob(base, q2.body['id'] as string))['state'], 'cancelled');
    for (const r of [a, b]) assert.equal((await api(base, 'POST', `/api/jobs/${r.body['id'] as string}/cancel`)).status, 202);
    const ev = await events;
    const progress = ev.filter((e) => e.event === 'progress').map((e) => e.data as { step: number; preview?: { x0: string } });
    assert.ok(progress.length >= 1);
    assert.ok(progress.some((p) => p.preview?.x0.startsWith('data:image/png;base64,')));
    assert.ok(progress.at(-1)!.step < 1000);
    assert.deepEqual(ev.at(-1), { event: 'state', data: { state: 'cancelled' } });
    assert.equal((await waitJob(base, b.body['id'] as string))['state'], 'cancelled');
    // The remaining queued job still completes on a freed worker.
    assert.equal((await waitJob(base, q1.body['id'] as string))['state'], 'done');
  });

  it("a job past the server's --job-timeout is stopped on its worker and fails naming the limit; the worker goes on", async () => {
    // A second server on the same Redis, with a 1 s limit that travels with each of its jobs.
    const s = await startServer({ port: 0, modelsDir, queue: redis.url, limits: { jobTimeoutSeconds: 1 } });
    try {
      const long = await api(s.url, 'POST', '/api/generate', { model: 'tiny', sampler: 'ddpm', steps: 1000, n: 16 });
      assert.equal(long.status, 202);
      const failed = await waitJob(s.url, long.body['id'] as string, 30_000);
      assert.equal(failed['state'], 'failed', JSON.stringify(failed));
      assert.match(failed['error'] as string, /ran longer than the server's job time limit of 1 s \(--job-timeout\)/);
      const next = await api(s.url, 'POST', '/api/generate', { model: 'tiny', steps: 2 });
      assert.equal((await waitJob(s.url, next.body['id'] as string))['state'], 'done');
    } finally {
      await s.server.close();
    }
  });
});
