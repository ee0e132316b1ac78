/**
 * Whole-model benchmark (`npm run bench`): the reference U-Net (configs/unet_reference.json, the
 * twin of ../shared/reference/unet_reference.json) on this machine, in our engine and, with
 * --vs-torch, in the PyTorch twin (../shared/reference/bench_torch.py) run back to back.
 *   train     one training step (noise, forward, MSE, backward, AdamW, EMA) at batch 64 and 128:
 *             ms/step, images/s, achieved GFLOP/s (2 x 3 x the forward's multiply-adds per image:
 *             convolutions, linear layers and attention, counted as the twin counts them) and the
 *             fraction of the machine's peak (a large sgemm measured in the same run);
 *   infer     model evaluations per second (forward only) at batch 64 and 256;
 *   wall      seconds for 64 images with DPM-Solver++ 2M at 20 steps and with DDPM at 1000 steps;
 *   rss       the peak RSS of each section (each runs in its own child process).
 * --profile adds a per-kernel time breakdown of one training step (forward, backward, optimizer)
 * and the time the kernels do not account for (JavaScript, allocation, the graph).
 * Prints JSON to stdout (progress to stderr) and writes bench/results/bench.json (or --out).
 *
 * Usage: npm run bench -- [--vs-torch] [--profile] [--reps R] [--no-ddpm] [--out FILE]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { UNet2DModel, configFromJSON } from '../src/nn/unet_2d.js';
import { AdamW } from '../src/nn/adamw.js';
import { EMA } from '../src/nn/ema.js';
import { Generator } from '../src/tensor/random.js';
import { noGrad } from '../src/tensor/autograd.js';
import { mseLoss } from '../src/ops/loss.js';
import { addNoise } from '../src/diffusion/forward.js';
import { makeBetas, alphasCumprod } from '../src/diffusion/schedules.js';
import { generate } from '../src/pipelines/generate.js';
import { profileKernels, setPhase, type KernelStat } from '../src/backend/profile.js';
import { addon, fn } from '../src/backend/native/loader.js';
import { packageRoot } from '../src/io/model_folder.js';

const TRAIN_BATCHES = [64, 128];
const INFER_BATCHES = [64, 256];
/** Timed steps per figure (median reported) and untimed warm-up steps before them. */
const STEPS = 6;
const WARMUP = 2;
/** The sgemm that measures the machine's peak: large enough to run at full speed on 2 cores. */
const PEAK_SIZE = 2048;

const progress = (msg: string): void => void process.stderr.write(`${msg}\n`);
const round = (x: number, digits = 4): number => Number(x.toPrecision(digits));

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Peak resident set size of this process so far, in MiB. */
const peakRssMb = (): number => round(process.resourceUsage().maxRSS / 1024);

function referenceModel(gen: Generator): UNet2DModel {
  const json = JSON.parse(readFileSync(join(packageRoot(), 'configs', 'unet_reference.json'), 'utf8')) as Record<string, unknown>;
  return new UNet2DModel(configFromJSON(json), { gen });
}

/** DDPM's linear schedule, as the twin's: abar = cumprod(1 - linspace(1e-4, 0.02, 1000)). */
const ACP = alphasCumprod(makeBetas({ numTrainTimesteps: 1000, betaStart: 1e-4, betaEnd: 0.02, betaSchedule: 'linear' }));

/** Multiply-adds of one forward per image (convolutions, linear layers, attention products). */
function forwardMacsPerImage(model: UNet2DModel, gen: Generator): number {
  const n = 2;
  const { stats } = profileKernels(() => noGrad(() => model.forward(gen.normal([n, 28, 28, 1]), [10, 500], [1, 2])));
  return stats.reduce((s, k) => s + k.macs, 0) / n;
}

interface TrainFigure { batch: number; msPerStep: number; imagesPerS: number; gflops: number; peakFraction: number; minMs: number; maxMs: number; peakRssMb: number }

/** The training step of the issue, timed from the noise draw to the EMA update. */
function trainSection(batch: number, peakGflops: number, profile: boolean): TrainFigure & { profile?: unknown } {
  const gen = new Generator(0);
  const model = referenceModel(gen);
  model.train();
  const params = model.parameters();
  const opt = new AdamW(params, { lr: 1e-4 });
  const ema = new EMA(params, 0.999);
  const macs = forwardMacsPerImage(model, gen);
  const step = (): void => {
    const x0 = gen.normal([batch, 28, 28, 1]);
    const u = gen.uniform([batch]).toArray();
    const t = Array.from(u, (v) => Math.min(999, Math.floor(v * 1000)));
    const labels = Array.from(gen.uniform([batch]).toArray(), (v) => Math.min(10, Math.floor(v * 11)));
    setPhase('forward');
    const noise = gen.normal(x0.shape);
    const xt = addNoise(ACP, x0, noise, t);
    const loss = mseLoss(model.forward(xt, t, labels), noise);
    setPhase('backward');
    loss.backward();
    setPhase('optimizer');
    opt.step();
    opt.zeroGrad();
    ema.update(params);
  };
  const times: number[] = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    step();
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  const ms = median(times);
  const gflops = (6 * macs * batch) / (ms / 1000) / 1e9;
  const fig: TrainFigure & { profile?: unknown } = {
    batch,
    msPerStep: round(ms),
    imagesPerS: round((batch / ms) * 1000),
    gflops: round(gflops),
    peakFraction: round(gflops / peakGflops, 3),
    minMs: round(Math.min(...times)),
    maxMs: round(Math.max(...times)),
    peakRssMb: peakRssMb(),
  };
  if (profile) {
    const t0 = performance.now();
    const { stats } = profileKernels(step);
    fig.profile = breakdown(stats, performance.now() - t0);
  }
  return fig;
}

/** The profile as a table: per phase and kernel, ms and share of the step; the rest is framework time. */
function breakdown(stats: KernelStat[], totalMs: number): unknown {
  const kernelMs = stats.reduce((s, k) => s + k.ms, 0);
  const rows = stats.map((s) => ({
    phase: s.phase,
    kernel: s.kernel,
    calls: s.calls,
    ms: round(s.ms, 3),
    share: round(s.ms / totalMs, 3),
    ...(s.macs > 0 ? { gflops: round((2 * s.macs) / (s.ms / 1000) / 1e9, 3) } : {}),
  }));
  progress(`profile of one step: ${totalMs.toFixed(0)} ms, kernels ${kernelMs.toFixed(0)} ms, framework ${(totalMs - kernelMs).toFixed(0)} ms`);
  for (const r of rows.slice(0, 25)) progress(`  ${r.phase.padEnd(10)} ${r.kernel.padEnd(24)} ${String(r.calls).padStart(5)} calls ${r.ms.toFixed(1).padStart(8)} ms ${(100 * r.share).toFixed(1).padStart(5)}%`);
  return { stepMs: round(totalMs), kernelMs: round(kernelMs), frameworkMs: round(totalMs - kernelMs), kernels: rows };
}

/** Forward passes per second (model evaluations of single images per second). */
function inferSection(batch: number): { batch: number; msPerForward: number; imagesPerS: number; peakRssMb: number } {
  const gen = new Generator(0);
  const model = referenceModel(gen);
  model.eval();
  const x = gen.normal([batch, 28, 28, 1]);
  const t = Array.from({ length: batch }, (_, i) => (i * 37) % 1000);
  const labels = Array.from({ length: batch }, (_, i) => i % 11);
  const times: number[] = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    noGrad(() => model.forward(x, t, labels));
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  const ms = median(times);
  return { batch, msPerForward: round(ms), imagesPerS: round((batch / ms) * 1000), peakRssMb: peakRssMb() };
}

/** Wall time of generating 64 images (one batch) with a sampler at a step count. */
function wallSection(sampler: 'dpmpp_2m' | 'ddpm', steps: number): { sampler: string; steps: number; images: number; seconds: number; peakRssMb: number } {
  const model = referenceModel(new Generator(0));
  model.eval();
  const schedulerConfig = { num_train_timesteps: 1000, beta_start: 1e-4, beta_end: 0.02, beta_schedule: 'linear' };
  const t0 = performance.now();
  generate({ model, scheduler: sampler, schedulerConfig, n: 64, batchSize: 64, steps, classLabels: 3, seed: 0 });
  return { sampler, steps, images: 64, seconds: round((performance.now() - t0) / 1000), peakRssMb: peakRssMb() };
}

/** GFLOP/s of a PEAK_SIZE^3 sgemm in oneDNN (bare, from C++): the machine's practical fp32 peak. */
function peakSection(): { size: number; gflops: number } {
  const bare = fn<(m: number, n: number, k: number, iters: number) => number>('benchMatmulBare');
  bare(PEAK_SIZE, PEAK_SIZE, PEAK_SIZE, 1);
  const secs = Array.from({ length: 5 }, () => bare(PEAK_SIZE, PEAK_SIZE, PEAK_SIZE, 2));
  return { size: PEAK_SIZE, gflops: round((2 * PEAK_SIZE ** 3) / median(secs) / 1e9) };
}

/** The V8 flags `diffuse` runs with (bin/diffuse.js): GC on the main thread, not competing with the compute threads. */
const CHILD_NODE_FLAGS = ['--single-threaded-gc'];

/** Runs one section in a child process (its own peak RSS) and returns its JSON. */
function child(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [...CHILD_NODE_FLAGS, ...process.execArgv, fileURLToPath(import.meta.url), '--child', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench child ${args.join(' ')} failed with status ${r.status}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** The PyTorch twin, as ../shared/reference/README.md runs it. */
function torchTwin(threads: number, batches: string, inferBatches: string, steps = STEPS, warmup = WARMUP): Record<string, unknown> | null {
  const script = join(packageRoot(), '..', 'shared', 'reference', 'bench_torch.py');
  if (!existsSync(script) || !existsSync('/usr/bin/python3')) return null;
  const r = spawnSync('/usr/bin/python3', [script, '--threads', String(threads), '--batches', batches, '--infer-batches', inferBatches, '--steps', String(steps), '--warmup', String(warmup)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) {
    progress(`torch twin failed (status ${r.status}); is python3-torch installed? (apt-get install -y python3-torch)`);
    return null;
  }
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function runChild(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { child: { type: 'string' }, batch: { type: 'string' }, peak: { type: 'string' }, profile: { type: 'boolean' }, sampler: { type: 'string' }, steps: { type: 'string' } }, strict: true });
  let out: unknown;
  switch (values.child) {
    case 'train':
      out = trainSection(Number(values.batch), Number(values.peak), values.profile === true);
      break;
    case 'infer':
      out = inferSection(Number(values.batch));
      break;
    case 'wall':
      out = wallSection(values.sampler as 'dpmpp_2m' | 'ddpm', Number(values.steps));
      break;
    case 'peak':
      out = peakSection();
      break;
    default:
      throw new Error(`unknown section ${values.child}`);
  }
  process.stdout.write(JSON.stringify(out));
}

interface TorchFigures { train: { batch: number; images_per_s: number }[]; infer: { batch: number; images_per_s: number }[]; peak_rss_mb: number }

function main(): void {
  const { values } = parseArgs({ options: { 'vs-torch': { type: 'boolean' }, profile: { type: 'boolean' }, reps: { type: 'string' }, 'no-ddpm': { type: 'boolean' }, out: { type: 'string' } }, strict: true });
  const reps = values.reps === undefined ? (values['vs-torch'] === true ? 2 : 1) : Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer, found ${values.reps}`);
  const info = addon().nativeInfo();
  const loadBefore = round(loadavg()[0]!, 3);
  const peak = child(['peak']) as { size: number; gflops: number };
  progress(`peak sgemm ${peak.size}^3: ${peak.gflops} GFLOP/s`);
  const ours: { train: TrainFigure[][]; infer: { batch: number; imagesPerS: number; peakRssMb: number }[][] } = { train: [], infer: [] };
  const torch: TorchFigures[] = [];
  let profile: unknown = null;
  for (let r = 0; r < reps; r++) {
    ours.train.push(
      TRAIN_BATCHES.map((b) => {
        const f = child(['train', '--batch', String(b), '--peak', String(peak.gflops), ...(values.profile === true && r === 0 && b === 128 ? ['--profile'] : [])]) as unknown as TrainFigure & { profile?: unknown };
        if (f.profile !== undefined) profile = f.profile;
        delete f.profile;
        progress(`ours train batch ${b}: ${f.msPerStep} ms/step, ${f.imagesPerS} images/s, ${f.gflops} GFLOP/s (${(100 * f.peakFraction).toFixed(0)}% of peak), peak RSS ${f.peakRssMb} MiB`);
        return f;
      }),
    );
    ours.infer.push(
      INFER_BATCHES.map((b) => {
        const f = child(['infer', '--batch', String(b)]) as unknown as { batch: number; imagesPerS: number; peakRssMb: number };
        progress(`ours infer batch ${b}: ${f.imagesPerS} evaluations/s`);
        return f;
      }),
    );
    if (values['vs-torch'] === true) {
      const t = torchTwin(info.threads, TRAIN_BATCHES.join(','), INFER_BATCHES.join(','));
      if (t !== null) {
        torch.push(t as unknown as TorchFigures);
        progress(`torch: train ${(t as unknown as TorchFigures).train.map((x) => `${x.batch}: ${x.images_per_s}`).join(', ')} images/s; infer ${(t as unknown as TorchFigures).infer.map((x) => `${x.batch}: ${x.images_per_s}`).join(', ')}`);
      }
    }
  }
  const wall = [child(['wall', '--sampler', 'dpmpp_2m', '--steps', '20'])];
  if (values['no-ddpm'] !== true) wall.push(child(['wall', '--sampler', 'ddpm', '--steps', '1000']));
  for (const w of wall) progress(`wall: ${w.sampler} ${w.steps} steps, 64 images: ${w.seconds} s`);

  // Medians over repetitions, and ratios to the twin's medians.
  const medOf = <T>(rows: T[][], i: number, key: keyof T): number => median(rows.map((row) => row[i]![key] as number));
  const train = TRAIN_BATCHES.map((batch, i) => ({
    batch,
    msPerStep: medOf(ours.train, i, 'msPerStep'),
    imagesPerS: medOf(ours.train, i, 'imagesPerS'),
    gflops: medOf(ours.train, i, 'gflops'),
    peakFraction: medOf(ours.train, i, 'peakFraction'),
    peakRssMb: medOf(ours.train, i, 'peakRssMb'),
    runs: ours.train.map((row) => row[i]!.imagesPerS),
  }));
  const infer = INFER_BATCHES.map((batch, i) => ({ batch, imagesPerS: medOf(ours.infer, i, 'imagesPerS'), peakRssMb: medOf(ours.infer, i, 'peakRssMb'), runs: ours.infer.map((row) => row[i]!.imagesPerS) }));
  let vsTorch: unknown = null;
  if (torch.length > 0) {
    // Peak RSS of the twin training at batch 128 alone (its main run's peak includes inference).
    const rssRun = torchTwin(info.threads, '128', '1', 3, 1) as unknown as TorchFigures | null;
    const tTrain = TRAIN_BATCHES.map((b) => median(torch.map((t) => t.train.find((x) => x.batch === b)!.images_per_s)));
    const tInfer = INFER_BATCHES.map((b) => median(torch.map((t) => t.infer.find((x) => x.batch === b)!.images_per_s)));
    vsTorch = {
      framework: (torch[0] as unknown as { framework: string }).framework,
      train: TRAIN_BATCHES.map((batch, i) => ({ batch, torchImagesPerS: tTrain[i], oursImagesPerS: train[i]!.imagesPerS, ratio: round(train[i]!.imagesPerS / tTrain[i]!, 3), torchRuns: torch.map((t) => t.train.find((x) => x.batch === batch)!.images_per_s) })),
      infer: INFER_BATCHES.map((batch, i) => ({ batch, torchImagesPerS: tInfer[i], oursImagesPerS: infer[i]!.imagesPerS, ratio: round(infer[i]!.imagesPerS / tInfer[i]!, 3) })),
      trainRss128: rssRun === null ? null : { torchMb: rssRun.peak_rss_mb, oursMb: train[1]!.peakRssMb, ratio: round(train[1]!.peakRssMb / rssRun.peak_rss_mb, 3) },
      torchRaw: torch,
    };
  }
  const result = {
    bench: 'reference U-Net',
    date: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? 'unknown',
    threads: info.threads,
    dnnlVersion: info.dnnlVersion,
    isa: info.isa,
    node: process.version,
    reps,
    peakSgemm: peak,
    train,
    infer,
    wall,
    vsTorch,
    profile,
    loadAverage1m: { before: loadBefore, after: round(loadavg()[0]!, 3) },
  };
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  const out = values.out ?? join(packageRoot(), 'bench', 'results', 'bench.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, json + '\n');
}

if (process.argv.includes('--child')) runChild(process.argv.slice(2));
else main();
