/**
 * The U-Net memory estimate and the --max-memory budget (issue 14, failure 4): the parameter count
 * equals the built model's (oracle: the model itself, and diffusers' published counts in
 * unet_config_bounds.test.ts); the activation estimate is within a factor 2 of the peak RSS
 * measured in a child process (a training step and a forward pass of the reference U-Net); a
 * config or batch over the budget is refused before anything is allocated (fast, RSS flat), in
 * the model's constructor, in every sampling pipeline (planCommon) and in train().
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UNet2DModel, configFromJSON, resolveConfig } from '../../src/nn/unet_2d.js';
import { TRAINING_PARAMETER_COPIES, unetActivationBytes, unetMemoryNeed, unetParameterCount } from '../../src/nn/memory_estimate.js';
import { MemoryBudgetError, checkMemoryBudget, defaultMaxMemory, formatBytes, maxMemory, parseByteSize, setMaxMemory } from '../../src/nn/memory_budget.js';
import { generate } from '../../src/pipelines/generate.js';
import { sdeSample } from '../../src/sampling/sde_process.js';
import { sdeFromConfig } from '../../src/sde/config.js';
import { Generator } from '../../src/tensor/random.js';
import { train } from '../../src/train/trainer.js';
import { packageRoot } from '../../src/io/package_root.js';
import { TINY_UNET, TinyFashion } from '../train/fixtures.js';
import { DDPM_256 } from '../helpers/unet_configs.js';

const reference = (): Record<string, unknown> => JSON.parse(readFileSync(join(packageRoot(), 'configs', 'unet_reference.json'), 'utf8')) as Record<string, unknown>;

/** Runs `fn` with the budget set to `bytes`, restoring the default after. */
function withBudget<T>(bytes: number, fn: () => T): T {
  setMaxMemory(bytes);
  try {
    return fn();
  } finally {
    setMaxMemory(null);
  }
}

describe('U-Net memory estimate and budget', () => {
  it('counts the parameters exactly as the built model has them', () => {
    const configs = [
      reference(),
      JSON.parse(readFileSync(join(packageRoot(), 'configs', 'unet_superres_fm.json'), 'utf8')) as Record<string, unknown>,
      TINY_UNET,
      { ...TINY_UNET, resnet_time_scale_shift: 'scale_shift', class_embed_type: 'timestep', num_class_embeds: null },
      { ...TINY_UNET, add_attention: false, attention_head_dim: null, layers_per_block: 3 },
      { ...TINY_UNET, block_out_channels: [4, 8, 12], down_block_types: ['AttnDownBlock2D', 'DownBlock2D', 'AttnDownBlock2D'], up_block_types: ['AttnUpBlock2D', 'UpBlock2D', 'AttnUpBlock2D'], attention_head_dim: 2, attn_norm_num_groups: 2, out_channels: 2 },
    ];
    for (const json of configs) {
      const c = configFromJSON(json);
      const built = new UNet2DModel(c).parameters().reduce((a, p) => a + p.size, 0);
      assert.equal(unetParameterCount(c), built, JSON.stringify(json));
    }
  });

  it('the activation estimate is within a factor 2 of the measured peak RSS (training step, forward pass)', () => {
    // A child process per case: its peak RSS (VmHWM, reset through clear_refs) is the measurement.
    const here = fileURLToPath(new URL('.', import.meta.url));
    const unet = join(here, '..', '..', 'src', 'nn', 'unet_2d.js');
    assert.ok(existsSync(unet), `compiled module ${unet} not found (run the tests from dist/)`);
    const imp = (rel: string): string => JSON.stringify(new URL(`../../src/${rel}`, import.meta.url).href);
    const script = `
      import { UNet2DModel, configFromJSON } from ${imp('nn/unet_2d.js')};
      import { tensor } from ${imp('tensor/create.js')};
      import { mseLoss } from ${imp('ops/loss.js')};
      import { noGrad } from ${imp('tensor/autograd.js')};
      import { readFileSync, writeFileSync } from 'node:fs';
      const m = new UNet2DModel(configFromJSON(JSON.parse(process.argv[1])));
      const status = (k) => parseInt(readFileSync('/proc/self/status', 'utf8').split('\\n').find((l) => l.startsWith(k + ':')).slice(k.length + 1), 10) * 1024;
      const step = (mode, n) => {
        const x = tensor(new Float32Array(n * 28 * 28).fill(0.5), [n, 28, 28, 1]);
        const labels = Array.from({ length: n }, (_, i) => i % 10);
        if (mode === 'training') { m.train(); mseLoss(m.forward(x, 500, labels), x).backward(); for (const p of m.parameters()) p.grad = null; }
        else noGrad(() => m.forward(x, 500, labels));
      };
      const peaks = [];
      for (const [mode, n] of JSON.parse(process.argv[2])) {
        step(mode, 1); // code, kernels and weights resident first
        globalThis.gc();
        writeFileSync('/proc/self/clear_refs', '5');
        const base = status('VmRSS');
        step(mode, n);
        peaks.push(status('VmHWM') - base);
      }
      process.stdout.write(JSON.stringify(peaks));
    `;
    // Inference first: the training step's freed memory would stay resident and hide the smaller peak.
    const cases: ['training' | 'inference', number][] = [['inference', 32], ['training', 8]];
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script, JSON.stringify(reference()), JSON.stringify(cases)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const measured = JSON.parse(r.stdout) as number[];
    cases.forEach(([mode, batch], i) => {
      const estimate = unetActivationBytes(configFromJSON(reference()), { batch, height: 28, width: 28, mode });
      const ratio = estimate / measured[i]!;
      assert.ok(ratio > 0.5 && ratio < 2, `${mode} batch ${batch} at 28x28: estimate ${formatBytes(estimate)}, measured ${formatBytes(measured[i]!)}`);
    });
  });

  it('parses sizes; the default budget is a fraction of the machine; bad values are refused', () => {
    assert.equal(parseByteSize('8G'), 8 * 2 ** 30);
    assert.equal(parseByteSize('512M'), 512 * 2 ** 20);
    assert.equal(parseByteSize('1.5GiB'), 1.5 * 2 ** 30);
    assert.equal(parseByteSize('100kb'), 100 * 1024);
    assert.equal(parseByteSize('1000'), 1000);
    assert.equal(parseByteSize(' 2 T '), 2 * 2 ** 40);
    for (const bad of ['', 'G', '8Q', '-1G', '0', '1e3', '0x10', 'eight', '1e400G']) assert.equal(parseByteSize(bad), undefined, bad);
    assert.equal(maxMemory(), defaultMaxMemory());
    assert.ok(defaultMaxMemory() > 2 ** 28);
    assert.throws(() => setMaxMemory(0), /positive integer/);
    assert.throws(() => setMaxMemory(1.5), /positive integer/);
    assert.doesNotThrow(() => checkMemoryBudget({ what: 'x', bytes: 10, parts: [], fix: 'f' }, 10));
    assert.throws(() => checkMemoryBudget({ what: 'x', bytes: 11, parts: ['a = 11 B'], fix: 'use less' }, 10), /x would need about 11 B of memory \(a = 11 B\), more than 10 B .*; use less, or raise the budget with --max-memory SIZE/);
  });

  it('a model over the budget is refused in the constructor before allocating: fast, RSS flat, the estimate and the fix named', () => {
    const huge = { blockOutChannels: [16384, 16384, 16384, 16384], downBlockTypes: new Array(4).fill('DownBlock2D'), upBlockTypes: new Array(4).fill('UpBlock2D'), layersPerBlock: 64, normNumGroups: 32 };
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    assert.throws(
      () => new UNet2DModel(huge),
      (e: unknown) => e instanceof MemoryBudgetError && /the U-Net's parameters would need about [\d.]+ TiB of memory \([\d.]+B parameters x 4 bytes = [\d.]+ TiB\), more than [\d.]+ GiB \(the default budget, 80% of this machine's/.test(e.message) && /use a smaller config/.test(e.message) && /--max-memory SIZE/.test(e.message),
    );
    assert.ok(performance.now() - t0 < 1000, 'refused at once');
    assert.ok(process.memoryUsage().rss - rss0 < 64 * 2 ** 20, 'nothing large allocated');
    // The bundled model fits the default budget, but not a 1 MiB one (it has 6.2 MiB of weights).
    const c = resolveConfig(configFromJSON(reference()));
    assert.doesNotThrow(() => new UNet2DModel(c));
    withBudget(2 ** 20, () => assert.throws(() => new UNet2DModel(c), /more than 1.00 MiB \(the budget set by --max-memory\)/));
    // A real large model is estimated (not refused) under the default: 114M parameters = 434 MiB.
    assert.match(unetMemoryNeed('ddpm-256', configFromJSON(DDPM_256), null, '').parts[0]!, /113.7M parameters x 4 bytes = 434 MiB/);
  });

  it('sampling: a batch whose activations exceed the budget is refused before the first step', () => {
    const model = new UNet2DModel(configFromJSON({ ...reference(), sample_size: null }));
    const t0 = performance.now();
    assert.throws(
      () => generate({ model, n: 1, size: [4096, 4096], steps: 2, seed: 0, scheduler: 'ddim' }),
      (e: unknown) => e instanceof MemoryBudgetError && /^generate: 1 image\(s\) of 4096x4096 would need about [\d.]+ TiB/.test(e.message) && /inference activations of a batch of 1 at 4096x4096/.test(e.message) && /use a smaller --batch/.test(e.message),
    );
    assert.ok(performance.now() - t0 < 1000);
    // The score-SDE samplers check the same before their first step.
    assert.throws(
      () => sdeSample({ method: 'pc', sde: sdeFromConfig({}), model, n: 1, size: [4096, 4096, 1], classLabels: Int32Array.from([0]), batchSize: 1, generator: new Generator(0) }),
      (e: unknown) => e instanceof MemoryBudgetError && /^sdeSample: 1 image\(s\) of 4096x4096 would need about/.test(e.message),
    );
    // The batch is what counts: 64 images of 28x28 pass with batch 4 under a 64 MiB budget, not with batch 64.
    withBudget(64 * 2 ** 20, () => {
      assert.throws(() => generate({ model, n: 64, size: [28, 28], steps: 1, seed: 0, batchSize: 64, scheduler: 'ddim', classLabels: 0 }), /batch of 64 at 28x28/);
    });
  });

  it('train: the parameters x 5 and a batch are checked before the data or the model is allocated', async () => {
    const out = mkdtempSync(join(tmpdir(), 'diffuse-mem-train-'));
    try {
      const need = unetMemoryNeed('t', configFromJSON(TINY_UNET), { batch: 4, height: 8, width: 8, mode: 'training' }, '');
      assert.match(need.parts[0]!, new RegExp(`x ${TRAINING_PARAMETER_COPIES} \\(weights, gradients, 2 AdamW moments, EMA\\)`));
      await withBudget(need.bytes - 1, async () => {
        await assert.rejects(
          train({ data: 'unused', dataset: new TinyFashion(8), out: join(out, 'run'), unet: TINY_UNET, steps: 1, batchSize: 4 }),
          (e: unknown) => e instanceof MemoryBudgetError && /^train: the U-Net with batches of 4 at 8x8 would need about/.test(e.message) && /use a smaller --batch or a smaller U-Net config/.test(e.message),
        );
      });
      assert.equal(existsSync(join(out, 'run')), false, 'nothing written');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('classifierParameterCount', () => {
  it('equals the parameters NoisyClassifier builds, for several configs; a classifier over the budget is refused before allocating', async () => {
    const { NoisyClassifier } = await import('../../src/nn/noisy_classifier.js');
    const { classifierParameterCount } = await import('../../src/nn/memory_estimate.js');
    const { setMaxMemory, MemoryBudgetError } = await import('../../src/nn/memory_budget.js');
    const configs = [
      {},
      { sampleSize: 8, blockOutChannels: [8, 16], downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'] as ('DownBlock2D' | 'AttnDownBlock2D')[], normNumGroups: 4, numClasses: 3, layersPerBlock: 2 },
      { sampleSize: 16, inChannels: 3, blockOutChannels: [16, 32, 32], downBlockTypes: ['AttnDownBlock2D', 'DownBlock2D', 'AttnDownBlock2D'] as ('DownBlock2D' | 'AttnDownBlock2D')[], normNumGroups: 8, addAttention: false, attentionHeadDim: 4 },
    ];
    for (const config of configs) {
      const m = new NoisyClassifier(config);
      const built = m.parameters().reduce((a, p) => a + p.size, 0);
      assert.equal(classifierParameterCount(m.config), built, JSON.stringify(config));
    }
    setMaxMemory(1 << 20);
    try {
      const t0 = Date.now();
      assert.throws(() => new NoisyClassifier({ blockOutChannels: [4096, 4096], downBlockTypes: ['DownBlock2D', 'DownBlock2D'] }), MemoryBudgetError);
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      setMaxMemory(null);
    }
  });
});
