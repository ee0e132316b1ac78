/**
 * Kernel benchmark (`npm run bench:kernels`): throughput of our ops next to the same oneDNN
 * primitive timed bare from C++ (native/kernels/bench.cc) in the same run, and their ratio.
 *   conv2d 3x3 (stride 1, padding 1) at batch 128: forward, backward-data, backward-weights, GFLOP/s
 *   matmul 1024 x 1024 x 1024, GFLOP/s
 *   group norm (forward + backward), silu (forward, backward) and add (forward), GB/s
 * Three timings per figure, repetitions interleaved so load from other processes hits all alike:
 *   ours        the public op (src/ops), including its output allocation (what training pays)
 *   oursKernel  our backend kernel on preallocated buffers (N-API, cache lookup, weight reorder)
 *   bare        the same oneDNN primitive alone, from C++, on preallocated buffers
 * ratio = ours / bare and kernelRatio = oursKernel / bare (throughput ratios; target >= 0.85).
 * Each is the median of REPS repetitions after a warm-up. Prints JSON (progress on stderr) and
 * writes bench/results/kernels.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { conv2d, conv2dGeometry } from '../src/ops/conv2d.js';
import { matmul } from '../src/ops/matmul.js';
import { groupNorm } from '../src/ops/group_norm.js';
import { silu } from '../src/ops/unary.js';
import { add } from '../src/ops/binary.js';
import { noGrad } from '../src/tensor/autograd.js';
import { tensor } from '../src/tensor/create.js';
import type { HostArray, Tensor } from '../src/tensor/tensor.js';
import { cpu } from '../src/backend/cpu.js';
import { addon, fn } from '../src/backend/native/loader.js';
import { packageRoot } from '../src/io/model_folder.js';
import { backend } from '../src/backend/backend.js';

/** Repetitions per figure; the median is reported. */
const REPS = 15;
/** Target wall time of one repetition: long enough to swamp timer noise, short enough for the whole run. */
const REP_SECONDS = 0.1;
const BATCH = 128;

type BareConv = (n: number, h: number, w: number, cin: number, cout: number, k: number, stride: number, pad: number, pass: number, iters: number) => number;
type BareMatmul = (m: number, n: number, k: number, iters: number) => number;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Seconds per call of `run`, timed over `iters` calls. */
function timeIters(run: () => void, iters: number): number {
  const t = performance.now();
  for (let i = 0; i < iters; i++) run();
  return (performance.now() - t) / 1000 / iters;
}

/** Median seconds per call of `run` over REPS repetitions, after a warm-up. */
function timeOurs(run: () => void): { seconds: number; iters: number } {
  const t = timeInterleaved([(n) => timeIters(run, n)]);
  return { seconds: t.seconds[0]!, iters: t.iters };
}

/**
 * Median seconds per call of each runner, repetitions interleaved (a, b, c, a, b, c, ...).
 * A runner takes an iteration count and returns seconds per call; runs[0] sizes the count.
 */
function timeInterleaved(runs: ((iters: number) => number)[]): { seconds: number[]; iters: number } {
  const iters = Math.max(1, Math.round(REP_SECONDS / Math.max(runs[0]!(1), 1e-6)));
  runs.forEach((r) => r(1)); // warm-up: primitives created, pages touched
  const reps = runs.map((): number[] => []);
  for (let r = 0; r < REPS; r++) runs.forEach((run, i) => reps[i]!.push(run(iters)));
  return { seconds: reps.map(median), iters };
}

/** Deterministic data in [-1, 1) (values as in bench.cc, so neither side sees denormals). */
/** A CPU tensor's host array, for timing the kernels on it directly (this benchmark measures the CPU backend). */
function host(t: Tensor): HostArray {
  if (!cpu.owns(t.storage)) throw new Error(`bench:kernels times CPU kernels; the tensor is on ${t.device.name}`);
  return t.storage;
}

function data(shape: number[], requiresGrad = false): Tensor {
  let n = 1;
  for (const d of shape) n *= d;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((i * 2654435761) % 2001) / 1000 - 1;
  return tensor(v, shape, { requiresGrad });
}

/** Progress goes to stderr so stdout stays pure JSON. */
const progress = (msg: string): void => void process.stderr.write(`${msg}\n`);

const round = (x: number, digits = 3): number => Number(x.toPrecision(digits));

interface Figure { ours: number; oursKernel: number; bare: number; ratio: number; kernelRatio: number; unit: string }

function figure(flops: number, [ours, kernel, bare]: number[]): Figure {
  const g = (sec: number): number => flops / sec / 1e9;
  return { ours: round(g(ours!)), oursKernel: round(g(kernel!)), bare: round(g(bare!)), ratio: round(bare! / ours!), kernelRatio: round(bare! / kernel!), unit: 'GFLOP/s' };
}

const ms = (sec: number): string => `${(sec * 1e3).toFixed(2)} ms`;

function convFigures(h: number, w: number, c: number): Record<string, Figure> {
  const k = 3;
  const flops = 2 * BATCH * h * w * c * c * k * k; // stride 1, padding 1: OH = H, OW = W
  const bare = fn<BareConv>('benchConvBare');
  const kern = backend();
  const x = data([BATCH, h, w, c]), wt = data([c, k, k, c]), b = data([c]);
  const g = conv2dGeometry(x, wt, b, { padding: 1 });
  const gx = data([BATCH, h, w, c]), y = data([BATCH, h, w, c]), gy = data([BATCH, h, w, c]), gw = data([c, k, k, c]), gb = data([c]);
  // Graphs whose recorded gradient runs exactly one backward pass of the op.
  const xg = data([BATCH, h, w, c], true);
  const yData = conv2d(xg, wt, b, { padding: 1 }); // only x requires grad: backward-data alone
  const wg = data([c, k, k, c], true), bg = data([c], true);
  const yWeights = conv2d(x, wg, bg, { padding: 1 }); // w and b require grad: backward-weights alone
  const passes: [string, number, () => void, () => void][] = [
    ['forward', 0, () => void noGrad(() => conv2d(x, wt, b, { padding: 1 })), () => kern.conv2dForward(g, host(x), host(wt), host(b), host(y))],
    ['backwardData', 1, () => void noGrad(() => yData.node!.backward(gy)), () => kern.conv2dBackwardData(g, host(gy), host(wt), host(gx))],
    ['backwardWeights', 2, () => void noGrad(() => yWeights.node!.backward(gy)), () => kern.conv2dBackwardWeights(g, host(x), host(gy), host(gw), host(gb))],
  ];
  const out: Record<string, Figure> = {};
  for (const [name, pass, viaOp, viaKernel] of passes) {
    const t = timeInterleaved([(n) => timeIters(viaOp, n), (n) => timeIters(viaKernel, n), (n) => bare(BATCH, h, w, c, c, k, 1, 1, pass, n)]);
    progress(`conv ${h}x${w}x${c} ${name}: op ${ms(t.seconds[0]!)}, kernel ${ms(t.seconds[1]!)}, bare ${ms(t.seconds[2]!)} (x ${t.iters})`);
    out[name] = figure(flops, t.seconds);
  }
  return out;
}

function matmulFigure(size: number): Figure {
  const a = data([size, size]), b = data([size, size]), c = data([size, size]);
  const bare = fn<BareMatmul>('benchMatmulBare');
  const p = { batch: 1, m: size, n: size, k: size, transA: false, transB: false, broadcastA: false, broadcastB: false, alpha: 1 };
  const t = timeInterleaved([
    (n) => timeIters(() => void noGrad(() => matmul(a, b)), n),
    (n) => timeIters(() => backend().matmul(p, host(a), host(b), null, host(c)), n),
    (n) => bare(size, size, size, n),
  ]);
  progress(`matmul ${size}: op ${ms(t.seconds[0]!)}, kernel ${ms(t.seconds[1]!)}, bare ${ms(t.seconds[2]!)} (x ${t.iters})`);
  return figure(2 * size ** 3, t.seconds);
}

/** GB/s of memory-bound ops on a (128, 28, 28, 32) activation, counting compulsory traffic only. */
function bandwidthFigures(): Record<string, { gbps: number; seconds: number; bytes: number }> {
  const shape = [BATCH, 28, 28, 32];
  const n = BATCH * 28 * 28 * 32;
  const f4 = 4;
  const res: Record<string, { gbps: number; seconds: number; bytes: number }> = {};
  const put = (name: string, bytes: number, seconds: number): void => {
    res[name] = { gbps: round(bytes / seconds / 1e9), seconds: round(seconds, 4), bytes };
  };
  {
    // Forward reads x, writes y; backward reads x and gy, writes gx (8 + 12 bytes per element).
    const x = data(shape, true), gamma = data([32], true), beta = data([32], true);
    const fwd = timeOurs(() => void noGrad(() => groupNorm(x, 8, gamma, beta)));
    const y = groupNorm(x, 8, gamma, beta);
    const gy = data(shape);
    const bwd = timeOurs(() => void noGrad(() => y.node!.backward(gy)));
    put('groupNormForwardBackward', 20 * n, fwd.seconds + bwd.seconds);
  }
  {
    const x = data(shape, true);
    put('siluForward', 2 * f4 * n, timeOurs(() => void noGrad(() => silu(x))).seconds);
    const y = silu(x);
    const gy = data(shape);
    put('siluBackward', 3 * f4 * n, timeOurs(() => void noGrad(() => y.node!.backward(gy))).seconds);
  }
  {
    const a = data(shape), b = data(shape);
    put('addForward', 3 * f4 * n, timeOurs(() => void noGrad(() => add(a, b))).seconds);
  }
  return res;
}

function main(): void {
  const info = addon().nativeInfo();
  // Other processes on a 2-core machine distort every figure; the 1-minute load average before
  // and after the run says how quiet it was (about 1 = this benchmark alone).
  const loadBefore = round(loadavg()[0]!);
  const result = {
    bench: 'kernels',
    date: new Date().toISOString(),
    threads: info.threads,
    dnnlVersion: info.dnnlVersion,
    isa: info.isa,
    reps: REPS,
    conv2d3x3Batch128: {
      '28x28x32->32': convFigures(28, 28, 32),
      '14x14x64->64': convFigures(14, 14, 64),
      '7x7x64->64': convFigures(7, 7, 64),
    },
    matmul1024: matmulFigure(1024),
    bandwidth: bandwidthFigures(),
    loadAverage1m: { before: loadBefore, after: round(loadavg()[0]!) },
  };
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'kernels.json'), json + '\n');
}

main();
