/**
 * NaN/Inf weights at load (io/nonfinite.ts; issue 14, failure 6): every loader (UNet2DModel,
 * NoisyClassifier, FeatureNet fromPretrained, readDiffusersWeights) refuses a weights file holding
 * NaN or +-Inf with an error naming the file, the first tensors and the counts, and loads it with
 * a warning under allowNonfinite. Bad files tried: NaN, +Inf, -Inf in F32; F16 +Inf and NaN bit
 * patterns; BF16 NaN; a conv weight (OIHW in the file); more bad tensors than the message names;
 * a classifier and a feature net. Oracle: the values written.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UNet2DModel, configToJSON, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { NoisyClassifier } from '../../src/nn/noisy_classifier.js';
import { FeatureNet } from '../../src/eval/feature_net.js';
import { WEIGHTS_NAME, readDiffusersWeights, writeDiffusersFolder } from '../../src/io/checkpoint.js';
import { NonfiniteWeightsError, checkFiniteWeights, findNonfinite, hasNonfiniteWeights } from '../../src/io/nonfinite.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const TINY: Partial<UNet2DConfig> = {
  sampleSize: [8, 6], inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4, numClassEmbeds: 3,
};
const model = new UNet2DModel(TINY).eval();
type HostState = Map<string, Tensor | { shape: readonly number[]; data: Float32Array }>;

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'nonfinite-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** The tiny model saved with `edits` (name -> value set at index `at`) applied. */
function saveBroken(name: string, edits: Record<string, [number, number]>): string {
  const dir = join(root, name);
  const state: HostState = new Map(model.stateDict());
  for (const [key, [at, v]] of Object.entries(edits)) {
    const t = state.get(key)!;
    const data = Float32Array.from((t as Tensor).toArray());
    data[at] = v;
    state.set(key, { shape: t.shape, data });
  }
  writeDiffusersFolder(dir, configToJSON(model.config as UNet2DConfig), state);
  return dir;
}

/** A one-tensor safetensors file of `dtype` holding the raw 16-bit patterns `bits`. */
function halfFile(dtype: 'F16' | 'BF16', bits: number[]): Uint8Array {
  const header = Buffer.from(JSON.stringify({ w: { dtype, shape: [bits.length], data_offsets: [0, 2 * bits.length] } }));
  const buf = Buffer.alloc(8 + header.length + 2 * bits.length);
  buf.writeBigUInt64LE(BigInt(header.length), 0);
  header.copy(buf, 8);
  bits.forEach((b, i) => buf.writeUInt16LE(b, 8 + header.length + 2 * i));
  return buf;
}

function refuses(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NonfiniteWeightsError, `expected NonfiniteWeightsError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe('weights holding NaN or Inf', () => {
  it('UNet2DModel.fromPretrained refuses NaN, +Inf and -Inf, naming the file, the tensor, the count and --allow-nonfinite', () => {
    const cases: [string, Record<string, [number, number]>, RegExp][] = [
      ['nan', { 'conv_out.bias': [0, NaN] }, /'conv_out\.bias' \(1 of 1 values, the first NaN at index 0\)/],
      ['inf', { 'time_embedding.linear_1.weight': [5, Infinity] }, /'time_embedding\.linear_1\.weight' \(1 of \d+ values, the first Infinity at index 5\)/],
      ['neginf', { 'conv_in.weight': [3, -Infinity] }, /'conv_in\.weight' \(1 of 36 values, the first -Infinity at index \d+\)/],
    ];
    for (const [name, edits, re] of cases) {
      const dir = saveBroken(name, edits);
      refuses(() => UNet2DModel.fromPretrained(dir), new RegExp(`${join(dir, WEIGHTS_NAME).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 1 tensor \\(1 value\\)`), re, /hold NaN or Inf/, /--allow-nonfinite/);
    }
  });

  it('names the first five tensors and counts the rest', () => {
    const names = [...model.stateDict().keys()].slice(0, 8);
    const dir = saveBroken('many', Object.fromEntries(names.map((n) => [n, [0, NaN]])));
    refuses(() => UNet2DModel.fromPretrained(dir), /8 tensors \(8 values\): ('[^']+' \(1 of \d+ values, the first NaN at index 0\), ){4}'[^']+' \(1 of \d+ values, the first NaN at index 0\) and 3 more hold/);
  });

  it('allowNonfinite loads anyway with one warning naming the tensors, and marks the model', () => {
    const dir = saveBroken('allowed', { 'conv_out.bias': [0, NaN] });
    const warnings: string[] = [];
    const m = UNet2DModel.fromPretrained(dir, { allowNonfinite: true, onWarning: (w) => warnings.push(w) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^warning: .*'conv_out\.bias'.*loading anyway \(--allow-nonfinite\)/);
    assert.ok(Number.isNaN(m.conv_out.bias!.toArray()[0]!));
    assert.equal(hasNonfiniteWeights(m), true);
    assert.equal(hasNonfiniteWeights(UNet2DModel.fromPretrained(saveBroken('fine', {}))), false);
    // readDiffusersWeights has the same switch.
    refuses(() => readDiffusersWeights(dir), /conv_out\.bias/);
    assert.equal(readDiffusersWeights(dir, { allowNonfinite: true, onWarning: () => {} }).get('conv_out.bias')!.data.length, 1);
  });

  it('F16 and BF16 files: the +Inf and NaN bit patterns are found after decoding', () => {
    // F16: 0x3c00 = 1, 0x7c00 = +Inf, 0x7e00 = NaN; BF16: 0x3f80 = 1, 0x7fc0 = NaN.
    const f16 = parseSafetensors(halfFile('F16', [0x3c00, 0x7c00, 0x7e00]), 'h.safetensors');
    assert.deepEqual(findNonfinite(f16.tensors).map((b) => [b.name, b.count, b.firstIndex]), [['w', 2, 1]]);
    const bf16 = parseSafetensors(halfFile('BF16', [0x3f80, 0x7fc0]), 'b.safetensors');
    refuses(() => checkFiniteWeights('b.safetensors', bf16.tensors), /^b\.safetensors: 1 tensor \(1 value\): 'w' \(1 of 2 values, the first NaN at index 1\)/);
    assert.equal(checkFiniteWeights('ok', parseSafetensors(halfFile('F16', [0x3c00]), 'ok').tensors), false);
  });

  it('NoisyClassifier and FeatureNet refuse too, and load under allowNonfinite', () => {
    const clf = new NoisyClassifier({ sampleSize: 8, inChannels: 1, numClasses: 3, blockOutChannels: [4, 8], downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], layersPerBlock: 1, normNumGroups: 2 });
    const clfDir = join(root, 'clf');
    clf.savePretrained(clfDir);
    const file = join(clfDir, WEIGHTS_NAME);
    const bytes = readFileSync(file);
    // Overwrite the last value of the data section with a float32 +Inf.
    bytes.writeFloatLE(Infinity, bytes.length - 4);
    writeFileSync(file, bytes);
    refuses(() => NoisyClassifier.fromPretrained(clfDir), /diffusion_pytorch_model\.safetensors: 1 tensor \(1 value\): '[^']+' \(1 of \d+ values, the first Infinity at index \d+\)/);
    assert.ok(NoisyClassifier.fromPretrained(clfDir, { allowNonfinite: true, onWarning: () => {} }) instanceof NoisyClassifier);

    const fn = new FeatureNet({ inChannels: 1, imageSize: 8, numClasses: 3, channels: [4, 8], normNumGroups: 2 });
    const fnDir = join(root, 'fn');
    fn.savePretrained(fnDir);
    const wfile = join(fnDir, 'model.safetensors');
    const raw = readFileSync(wfile);
    // Overwrite the last 4 bytes (the last value of the data section) with a float32 NaN.
    raw.writeFloatLE(NaN, raw.length - 4);
    writeFileSync(wfile, raw);
    refuses(() => FeatureNet.fromPretrained(fnDir), /model\.safetensors: 1 tensor \(1 value\)/);
    assert.ok(FeatureNet.fromPretrained(fnDir, { allowNonfinite: true, onWarning: () => {} }) instanceof FeatureNet);
  });
});
