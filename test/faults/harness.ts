/**
 * The fault-injection harness: a tiny image folder and tiny model configs, `bin/diffuse.js` run as
 * a child with DIFFUSE_FAULT (io/file_ops.ts: kill or ENOSPC at the Nth file operation, or a log
 * of every operation), the checks that every checkpoint on disk loads and that nothing temporary
 * is left, and the comparison of a finished run with an uninterrupted one (weights, EMA,
 * optimizer state, trainer state and metrics, bit for bit; only timings may differ).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { encodePng } from '../../src/io/png.js';
import { packageRoot } from '../../src/io/package_root.js';
import { cliInProcess } from '../helpers/cli_in_process.js';
import { latestCheckpoint, resolveModelDir } from '../../src/io/model_folder.js';
import { readDiffusersWeights, readJSONFile } from '../../src/io/checkpoint.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { readTrainerState } from '../../src/train/checkpoint.js';
import { UNet2DModel } from '../../src/nn/unet_2d.js';
import { NoisyClassifier } from '../../src/nn/noisy_classifier.js';

export const BIN = join(packageRoot(), 'bin', 'diffuse.js');

/** A fresh temporary folder. */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `diffuse-faults-${tag}-`));
}

/** The smallest U-Net that trains: 8x8x1, 4/4 channels, no attention, unconditional. */
export const FAULT_UNET = {
  sample_size: 8, in_channels: 1, out_channels: 1, block_out_channels: [4, 4], down_block_types: ['DownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'UpBlock2D'], layers_per_block: 1, norm_num_groups: 2, attention_head_dim: 4, num_class_embeds: null,
};

/** The smallest noisy classifier: 8x8x1, 2 classes, 4/4 channels, no attention. */
export const FAULT_CLASSIFIER = {
  sample_size: 8, num_classes: 2, block_out_channels: [4, 4], down_block_types: ['DownBlock2D', 'DownBlock2D'], add_attention: false, norm_num_groups: 2, attention_head_dim: 4,
};

/** Writes DIR/data/{a,b}/*.png (8 deterministic 8x8 images, 2 classes) and the configs; returns their paths. */
export async function makeFixtures(dir: string): Promise<{ data: string; unet: string; classifier: string }> {
  const data = join(dir, 'data');
  for (const [c, cls] of ['a', 'b'].entries()) {
    mkdirSync(join(data, cls), { recursive: true });
    for (let i = 0; i < 4; i++) {
      const pixels = new Float32Array(64).map((_, j) => Math.sin(j * (i + 1) + c)); // (8, 8, 1)
      writeFileSync(join(data, cls, `${i}.png`), await encodePng({ data: pixels, height: 8, width: 8, channels: 1 }));
    }
  }
  const unet = join(dir, 'unet.json');
  writeFileSync(unet, JSON.stringify(FAULT_UNET));
  const classifier = join(dir, 'classifier.json');
  writeFileSync(classifier, JSON.stringify(FAULT_CLASSIFIER));
  return { data, unet, classifier };
}

/** How a child ended. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Runs `bin/diffuse.js ...args` as a user would (the executable itself), with DIFFUSE_FAULT =
 * `fault` when given; `killAfterMs` sends SIGKILL from outside after that long.
 */
export function runBin(args: string[], fault: string | null, killAfterMs: number | null = null): Promise<ChildResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, DIFFUSE_THREADS: '1' };
  delete env['DIFFUSE_FAULT'];
  if (fault !== null) env['DIFFUSE_FAULT'] = fault;
  const child = spawn(BIN, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = killAfterMs === null ? null : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => {
      if (timer !== null) clearTimeout(timer);
      res({ code, signal, stderr });
    });
  });
}

/** One line of a DIFFUSE_FAULT=log:FILE dry run. */
export interface OpLine {
  n: number;
  kind: string;
  k: number;
  path: string;
}

/** Reads a dry run's log. */
export function readOpLog(file: string): OpLine[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const [n, kind, k, ...rest] = l.split(' ');
      return { n: Number(n), kind: kind!, k: Number(k), path: rest.join(' ') };
    });
}

/**
 * The operations of the checkpoint written after step `step` (its folder, latest.json and the
 * pruning that follows): from the step's metrics line to the next one, exclusive.
 */
export function saveWindow(ops: readonly OpLine[], step: number): OpLine[] {
  const metrics = ops.filter((o) => o.kind === 'write' && o.path.endsWith('metrics.jsonl'));
  const from = metrics[step - 1]!.n;
  const to = metrics[step]?.n ?? Infinity;
  return ops.filter((o) => o.n > from && o.n < to && !o.path.includes('.tmp-model-') && !o.path.endsWith('/model'));
}

/** The operations of the export of RUN_DIR/model: from its temporary folder's creation to the end. */
export function exportWindow(ops: readonly OpLine[]): OpLine[] {
  const first = ops.find((o) => o.path.includes('.tmp-model-'));
  assert.ok(first !== undefined, 'the dry run exported a model');
  return ops.filter((o) => o.n >= first.n);
}

/** Every temporary name (of a file or folder being written, replaced or deleted) under `dir`. */
export function leftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (/^\.(tmp|old|trash)-/.test(n) || /^\..*\.tmp$/.test(n)) out.push(relative(dir, p));
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/**
 * The invariant after any kill: every checkpoint folder that looks complete (holds
 * trainer_state.json) loads, and so does what latest.json leads to and what `sample` would load.
 * `kind` picks the checkpoint layout. Returns the number of checkpoints checked.
 */
export function assertLoadable(runDir: string, kind: 'unet' | 'classifier', where: string): number {
  const root = join(runDir, 'checkpoints');
  let n = 0;
  const load = (dir: string): void => {
    if (kind === 'unet') {
      readTrainerState(dir);
      readDiffusersWeights(join(dir, 'unet'));
      readDiffusersWeights(join(dir, 'unet_ema'));
    } else {
      readJSONFile(join(dir, 'trainer_state.json'));
      NoisyClassifier.fromPretrained(join(dir, 'classifier'));
    }
    readSafetensors(join(dir, 'optimizer.safetensors'));
    n++;
  };
  if (existsSync(root)) {
    for (const name of readdirSync(root)) {
      if (!/^step-\d+$/.test(name)) continue;
      const dir = join(root, name);
      assert.ok(existsSync(join(dir, 'trainer_state.json')), `${where}: ${name} is visible but incomplete (no trainer_state.json)`);
      load(dir);
    }
  }
  if (existsSync(join(runDir, 'latest.json'))) {
    const latest = latestCheckpoint(runDir);
    assert.ok(latest !== null, `${where}: latest.json leads to no checkpoint`);
    load(latest.dir);
    if (kind === 'unet') UNet2DModel.fromPretrained(resolveModelDir(runDir).unetDir);
  }
  return n;
}

let inProcess: Promise<unknown> = Promise.resolve();

/**
 * Runs `diffuse ...args` in this process through the CLI's main() (one at a time), capturing
 * stderr; returns the exit code and stderr.
 */
export function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const run = (): Promise<{ code: number; stderr: string }> => cliInProcess(args);
  const p = inProcess.then(run, run);
  inProcess = p.catch(() => undefined);
  return p;
}

/** Runs `cases` with `fn`, `lanes` at a time (children run in parallel on the cores). */
export async function inLanes<T>(cases: readonly T[], fn: (c: T, i: number) => Promise<void>, lanes = 2): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      await fn(cases[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

const bytes = (p: string): Buffer => readFileSync(p);

/** metrics.jsonl without its timings (images_per_s and elapsed differ between sessions). */
function metricsOf(runDir: string): unknown[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { images_per_s: _i, elapsed: _e, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
}

/** trainer_state.json without its timing (and the fields a resume may change, when named). */
function stateOf(dir: string, ignore: readonly string[]): unknown {
  const s = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as Record<string, unknown>;
  delete s['elapsed'];
  const config = s['config'] as Record<string, unknown>;
  for (const k of ['out', ...ignore]) delete config[k];
  return s;
}

/**
 * Asserts that the finished run `runDir` equals the uninterrupted `refDir`: the same visible
 * checkpoints, their weights (raw and EMA, or the classifier's), optimizer state and trainer
 * state bit for bit, the exported model, metrics.jsonl (timings aside), and no temporaries.
 */
export function assertSameRun(refDir: string, runDir: string, kind: 'unet' | 'classifier', where: string, ignoreConfig: readonly string[] = []): void {
  assert.deepEqual(leftovers(runDir), [], `${where}: temporary files left after the run finished`);
  const visible = (d: string): string[] => readdirSync(join(d, 'checkpoints')).sort();
  assert.deepEqual(visible(runDir), visible(refDir), `${where}: checkpoints`);
  for (const name of visible(refDir)) {
    const a = join(refDir, 'checkpoints', name);
    const b = join(runDir, 'checkpoints', name);
    const files = kind === 'unet' ? ['unet/diffusion_pytorch_model.safetensors', 'unet_ema/diffusion_pytorch_model.safetensors', 'optimizer.safetensors'] : ['classifier/diffusion_pytorch_model.safetensors', 'optimizer.safetensors'];
    for (const f of files) assert.ok(bytes(join(a, f)).equals(bytes(join(b, f))), `${where}: ${name}/${f} differs from the uninterrupted run`);
    assert.deepEqual(stateOf(b, ignoreConfig), stateOf(a, ignoreConfig), `${where}: ${name}/trainer_state.json`);
  }
  const model = kind === 'unet' ? 'model/unet/diffusion_pytorch_model.safetensors' : 'model/diffusion_pytorch_model.safetensors';
  assert.ok(bytes(join(refDir, model)).equals(bytes(join(runDir, model))), `${where}: the exported ${model} differs`);
  assert.deepEqual(metricsOf(runDir), metricsOf(refDir), `${where}: metrics.jsonl`);
}
