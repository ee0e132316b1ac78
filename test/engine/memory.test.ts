// Engine-wide memory test: training a small conv net for 500 steps must keep the resident set
// flat (RSS after step 500 within 10% of RSS after step 50), under normal garbage collection.
//
// Why the batch is 16: V8 frees an unreachable ArrayBuffer only at a GC, and with this loop's few
// JS objects those GCs come from external-memory pressure, roughly every 32 MB of new buffers.
// The process's RSS settles once the first such GC has run (glibc keeps the freed memory for
// reuse). At 16 x 16 x 16 x 16 activations (about 1 MB of temporaries a step) the first GC falls
// near step 30, so step 50 is a settled baseline; a leak of even one activation per step (256 KB)
// would add over 100 MB by step 500.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Generator } from '../../src/tensor/random.js';
import { zeros, ones } from '../../src/tensor/create.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { conv2d } from '../../src/ops/conv2d.js';
import { groupNormSilu } from '../../src/ops/group_norm.js';
import { mseLoss } from '../../src/ops/loss.js';
import { AdamW } from '../../src/nn/adamw.js';
import { addon } from '../../src/backend/native/loader.js';

const STEPS = 500;
const BASELINE_STEP = 50;
const BATCH = 16;
const CHILD_ENV = 'DIFFUSE_MEMORY_CHILD';

interface Report {
  rss: Record<number, number>;
  /** The largest RSS seen from step 250 on. */
  lateMaxRss: number;
  firstLoss: number;
  lastLoss: number;
  convCache: Record<number, number>;
}

/** Trains conv 3x3 (1->16) -> groupNormSilu -> conv 3x3 (16->1) to imitate a fixed 3x3 filter. */
function train(): Report {
  const gen = new Generator(2024);
  const w1 = gen.normal([16, 3, 3, 1], 0, 0.3).requireGrad(); // (O, KH, KW, I)
  const b1 = zeros([16], { requiresGrad: true });
  const gamma = ones([16], { requiresGrad: true });
  const beta = zeros([16], { requiresGrad: true });
  const w2 = gen.normal([1, 3, 3, 16], 0, 0.1).requireGrad();
  const b2 = zeros([1], { requiresGrad: true });
  const teacher = gen.normal([1, 3, 3, 1], 0, 0.5);
  const opt = new AdamW([w1, b1, gamma, beta, w2, b2], { lr: 1e-2 });
  const report: Report = { rss: {}, lateMaxRss: 0, firstLoss: NaN, lastLoss: NaN, convCache: {} };
  const cacheSize = (): number => (addon()['conv2dCacheSize'] as () => number)();
  for (let step = 1; step <= STEPS; step++) {
    const x = gen.normal([BATCH, 16, 16, 1]); // (N, H, W, C)
    const target = noGrad(() => conv2d(x, teacher, null, { padding: 1 }));
    const h = groupNormSilu(conv2d(x, w1, b1, { padding: 1 }), 4, gamma, beta); // (N, 16, 16, 16)
    const loss = mseLoss(conv2d(h, w2, b2, { padding: 1 }), target);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    const value = loss.item();
    if (step === 1) report.firstLoss = value;
    report.lastLoss = value;
    const rss = process.memoryUsage.rss();
    if (step === BASELINE_STEP || step === STEPS) {
      report.rss[step] = rss;
      report.convCache[step] = cacheSize();
    }
    if (step >= STEPS / 2) report.lateMaxRss = Math.max(report.lateMaxRss, rss);
  }
  return report;
}

if (process.env[CHILD_ENV] === '1') {
  process.stdout.write(`${JSON.stringify(train())}\n`);
} else {
  describe('memory', () => {
    it(`RSS after step ${STEPS} of training is within 10% of RSS after step ${BASELINE_STEP}`, () => {
      // A fresh process, so nothing else the runner loaded shares the measurement. Passive OpenMP
      // waiting keeps the run fast on a machine shared with other work (spinning threads would
      // fight over the cores); it does not change what is allocated.
      const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
        env: { ...process.env, [CHILD_ENV]: '1', OMP_WAIT_POLICY: 'passive' },
        encoding: 'utf8',
        timeout: 300_000,
      });
      assert.equal(child.signal, null, `the training child was killed by ${child.signal}; stderr:\n${child.stderr.slice(-2000)}`);
      assert.equal(child.status, 0, `the training child exited with ${child.status}; stderr:\n${child.stderr.slice(-2000)}`);
      const r = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as Report;
      const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MB`;
      const base = r.rss[BASELINE_STEP]!;
      const end = r.rss[STEPS]!;
      assert.ok(end <= 1.1 * base && end >= 0.9 * base, `RSS ${mb(base)} after step ${BASELINE_STEP}, ${mb(end)} after step ${STEPS}`);
      assert.ok(r.lateMaxRss <= 1.1 * base, `RSS peaked at ${mb(r.lateMaxRss)} in the second half (baseline ${mb(base)})`);
      // The native primitive cache holds one entry per shape, not one per call.
      assert.equal(r.convCache[STEPS], r.convCache[BASELINE_STEP], 'conv2d primitive cache grew during training');
      // The run really trained (so the steps did the work being measured).
      assert.ok(r.lastLoss < 0.2 * r.firstLoss, `loss went from ${r.firstLoss} to ${r.lastLoss}`);
    });
  });
}
