/** Shared fixtures of the server tests: a models folder with tiny U-Nets, an SSE reader, Redis and worker processes. */
import { mkdtempSync, mkdirSync, symlinkSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer as netServer } from 'node:net';
import { UNet2DModel } from '../../src/nn/unet_2d.js';
import { configFromJSON } from '../../src/nn/unet_2d.js';
import { writeSchedulerConfig, writeJSONAtomic, WEIGHTS_NAME } from '../../src/io/checkpoint.js';
import { TINY_UNET } from '../train/fixtures.js';
import { SUPERRES_FILE } from '../../src/train/objectives/superres.js';

/**
 * A temporary models folder: 'tiny' (the 8x8 class-conditional test U-Net, random weights, a
 * DDPM scheduler config), 'tiny-uncond' (unconditional), 'tiny-sr' (an SR3 model, x2), 'broken' (weights not safetensors), and 'escape', a symbolic link to a model
 * outside the folder (must be refused).
 */
export function makeModelsDir(): { dir: string; outside: string } {
  const root = mkdtempSync(join(tmpdir(), 'diffuse-serve-'));
  const dir = join(root, 'models');
  mkdirSync(dir);
  const tiny = join(dir, 'tiny');
  new UNet2DModel(configFromJSON({ ...TINY_UNET, dropout: 0 })).savePretrained(join(tiny, 'unet'));
  writeSchedulerConfig(join(tiny, 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 1000 });
  writeJSONAtomic(join(tiny, 'model_index.json'), { _class_name: 'DDPMPipeline' });
  const uncond = join(dir, 'tiny-uncond');
  new UNet2DModel(configFromJSON({ ...TINY_UNET, dropout: 0, num_class_embeds: null })).savePretrained(join(uncond, 'unet'));
  writeSchedulerConfig(join(uncond, 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 1000 });
  // An SR3 model: 4x4 -> 8x8 (in_channels 2: the noisy image and the upsampled input).
  const sr = join(dir, 'tiny-sr');
  new UNet2DModel(configFromJSON({ ...TINY_UNET, dropout: 0, num_class_embeds: null, in_channels: 2 })).savePretrained(join(sr, 'unet'));
  writeSchedulerConfig(join(sr, 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 1000 });
  writeJSONAtomic(join(sr, 'model_index.json'), { _class_name: 'DDPMPipeline' });
  writeJSONAtomic(join(sr, SUPERRES_FILE), { task: 'superres', scale: 2, downsample: 'area', upsample: 'bicubic' });
  const broken = join(dir, 'broken', 'unet');
  new UNet2DModel(configFromJSON({ ...TINY_UNET, dropout: 0 })).savePretrained(broken);
  writeFileSync(join(broken, WEIGHTS_NAME), 'not a safetensors file');
  const outside = join(root, 'secret-model');
  new UNet2DModel(configFromJSON({ ...TINY_UNET, dropout: 0 })).savePretrained(join(outside, 'unet'));
  symlinkSync(outside, join(dir, 'escape'));
  return { dir, outside };
}

/** One Server-Sent Event. */
export interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads a whole SSE stream (until the server ends it) and parses its events. */
export async function readSse(url: string, signal?: AbortSignal): Promise<SseEvent[]> {
  const res = await fetch(url, signal === undefined ? {} : { signal });
  if (res.status !== 200) throw new Error(`SSE ${url}: HTTP ${res.status}`);
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) throw new Error(`SSE ${url}: content-type ${res.headers.get('content-type')}`);
  return parseSse(await res.text());
}

export function parseSse(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of text.split('\n\n')) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':') || line === '') continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) out.push({ event, data: JSON.parse(data.join('\n')) });
  }
  return out;
}

/** JSON request helper: status and parsed body. */
export async function api(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers = { ...headers, 'content-type': 'application/json' };
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

/** Polls a job until it reaches a final state. */
export async function waitJob(base: string, id: string, timeoutMs = 60_000, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api(base, 'GET', `/api/jobs/${id}`, undefined, headers);
    if (['done', 'failed', 'cancelled'].includes(body['state'] as string)) return body;
    if (Date.now() > until) throw new Error(`job ${id} still ${String(body['state'])} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Throws a clear message when a system binary a test needs is missing. */
export function requireBinary(path: string, pkg: string): void {
  const found = path.startsWith('/') ? existsSync(path) : spawnSync('which', [path]).status === 0;
  if (!found) throw new Error(`${path} is not installed: this test needs Debian's '${pkg}' package (setup.sh installs it: apt-get install -y ${pkg})`);
}

/** A private redis-server on a free port, no persistence; kill() stops it. */
export async function startRedis(): Promise<{ url: string; kill(): Promise<void> }> {
  requireBinary('redis-server', 'redis-server');
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
  return { url: `redis://127.0.0.1:${port}`, kill: () => stop(proc) };
}

/** Stops a child process and waits for it. */
export async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
  });
}

/**
 * Runs `diffuse <args>` as a child process: the compiled CLI under dist/, or the TypeScript source
 * through tsx when the tests run from source.
 */
export function spawnDiffuse(args: string[]): ChildProcess {
  const fromSource = import.meta.url.endsWith('.ts');
  const main = new URL(`../../src/cli/main.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
  const code = `import(${JSON.stringify(main)}).then(async (m) => { process.exitCode = await m.main(${JSON.stringify(args)}); })`;
  return spawn(process.execPath, [...(fromSource ? ['--import', 'tsx'] : []), '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DIFFUSE_THREADS: '1' } });
}

/** Waits until a child's stdout shows `pattern`. */
export async function waitOutput(proc: ChildProcess, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} after ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`)), timeoutMs);
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited with ${code} before ${pattern}; stdout: ${out}; stderr: ${err}`));
    });
  });
}
