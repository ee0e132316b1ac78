import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { batches, randomPermutation, DataError, type Dataset, type Sample, type LoaderState } from '../../src/data/dataset.js';
import { Generator } from '../../src/tensor/random.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** A tiny in-memory dataset: image i is (2, 2, C) filled with a ramp starting at i / 100. */
class RampDataset implements Dataset {
  readonly name = 'ramp';
  readonly imageSize = 2;
  readonly classNames: readonly string[];
  constructor(
    readonly length: number,
    readonly channels: number,
    readonly numClasses: number | null,
  ) {
    this.classNames = numClasses === null ? [] : Array.from({ length: numClasses }, (_, k) => `c${k}`);
  }
  get(i: number): Sample {
    const image = Float32Array.from({ length: 4 * this.channels }, (_, p) => i / 100 + p / 1000);
    return { image, label: this.numClasses === null ? null : i % this.numClasses };
  }
}

const take = <T>(it: Iterator<T>, n: number): T[] => {
  const out: T[] = [];
  for (let k = 0; k < n; k++) {
    const r = it.next();
    if (r.done === true) break;
    out.push(r.value);
  }
  return out;
};

describe('batch loader', () => {
  it('shuffled epochs are permutations drawn from the generator: same seed, same order; epochs differ', () => {
    const ds = new RampDataset(10, 1, 3);
    const run = (seed: number): number[][] => {
      const epochs: number[][] = [[], []];
      for (const b of batches(ds, { batchSize: 4, generator: new Generator(seed), dropLast: false, epochs: 2 })) {
        epochs[b.state.epoch]!.push(...b.indices);
      }
      return epochs;
    };
    const a = run(7);
    assert.deepEqual(a, run(7));
    for (const e of a) assert.deepEqual([...e].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(a[0], a[1]);
    assert.notDeepEqual(a[0], run(8)[0]);
  });

  it('batches hold (N, H, W, C) images and labels in index order; dropLast drops the short batch', () => {
    const ds = new RampDataset(7, 3, 4);
    const all = [...batches(ds, { batchSize: 3, shuffle: false, epochs: 1 })];
    assert.equal(all.length, 2); // 7 // 3 with dropLast (the default)
    const b = all[1]!;
    assert.deepEqual(b.x.shape, [3, 2, 2, 3]);
    assert.deepEqual(Array.from(b.indices), [3, 4, 5]);
    assert.deepEqual(Array.from(b.labels!), [3, 0, 1]);
    assert.ok(Math.abs((hostBuffer(b.x)[12] as number) - 0.04) < 1e-7); // image 4, first pixel
    const kept = [...batches(ds, { batchSize: 3, shuffle: false, dropLast: false, epochs: 1 })];
    assert.deepEqual(kept.map((k) => k.x.shape[0]), [3, 3, 1]);
    const uncond = [...batches(new RampDataset(2, 1, null), { batchSize: 2, shuffle: false, epochs: 1 })];
    assert.equal(uncond[0]!.labels, null);
  });

  it('flip mirrors some images and leaves the others untouched, reproducibly', () => {
    const ds = new RampDataset(64, 1, null);
    const [b] = take(batches(ds, { batchSize: 64, generator: new Generator(3), shuffle: false, flip: true }), 1);
    let flipped = 0;
    for (let i = 0; i < 64; i++) {
      const orig = ds.get(i).image; // (2, 2, 1): [a, b; c, d]
      const got = Array.from(hostBuffer(b!.x).subarray(i * 4, i * 4 + 4));
      const mirrored = [orig[1], orig[0], orig[3], orig[2]].map(Number);
      if (got.every((v, p) => v === orig[p])) continue;
      assert.deepEqual(got, mirrored, `image ${i} is neither itself nor its mirror`);
      flipped++;
    }
    assert.ok(flipped > 16 && flipped < 48, `${flipped} of 64 flipped`);
    const [again] = take(batches(ds, { batchSize: 64, generator: new Generator(3), shuffle: false, flip: true }), 1);
    assert.deepEqual(hostBuffer(again!.x), hostBuffer(b!.x));
  });

  it('resume from a saved state replays exactly the same batches, across an epoch boundary', () => {
    const ds = new RampDataset(11, 1, 2);
    const opts = { batchSize: 3, flip: true } as const;
    type Seen = { x: number[]; idx: number[] };
    /** Runs `steps` training steps; the trainer's own draws share the generator between batches. */
    const train = (gen: Generator, steps: number, resume?: LoaderState): { seen: Seen[]; loader: LoaderState | null } => {
      const seen: Seen[] = [];
      let loader: LoaderState | null = null;
      for (const b of batches(ds, { ...opts, generator: gen, ...(resume !== undefined ? { resume } : {}) })) {
        gen.uniform([5]);
        seen.push({ x: Array.from(hostBuffer(b.x)), idx: Array.from(b.indices) });
        loader = b.state;
        if (seen.length === steps) break;
      }
      return { seen, loader };
    };
    const straight = train(new Generator(42), 8).seen; // 3 batches per epoch with dropLast
    const gen1 = new Generator(42);
    const first = train(gen1, 4);
    // Checkpoint through JSON, as a trainer would, then resume in a fresh loader and generator.
    const loaderState = JSON.parse(JSON.stringify(first.loader)) as LoaderState;
    const gen2 = Generator.fromState(JSON.parse(JSON.stringify(gen1.getState())));
    const rest = train(gen2, 4, loaderState).seen;
    assert.equal(loaderState.epoch, 1);
    assert.deepEqual([...first.seen, ...rest], straight);
    // Resuming exactly at an epoch's end continues with the next epoch's fresh order.
    const gen3 = new Generator(42);
    const three = train(gen3, 3);
    assert.equal(three.loader!.position, 9);
    const after = train(Generator.fromState(gen3.getState()), 5, three.loader!).seen;
    assert.deepEqual([...three.seen, ...after], straight);
  });

  it('randomPermutation is a permutation', () => {
    const p = randomPermutation(1000, new Generator(1));
    assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
    assert.deepEqual(Array.from(randomPermutation(1, new Generator(1))), [0]);
  });

  it('bad options give clear errors', () => {
    const ds = new RampDataset(5, 1, null);
    const first = (o: Parameters<typeof batches>[1]): unknown => batches(ds, o).next();
    assert.throws(() => first({ batchSize: 0, shuffle: false }), (e: Error) => e instanceof ArgumentError && /batchSize must be a positive integer, found 0/.test(e.message));
    assert.throws(() => first({ batchSize: 2 }), /shuffle and flip need a seeded 'generator'/);
    assert.throws(() => first({ batchSize: 6, shuffle: false }), /batchSize 6 exceeds the 5 examples of 'ramp' with dropLast on/);
    assert.throws(() => first({ batchSize: 2, shuffle: false, resume: { epoch: -1, position: 0, epochStart: null } }), /resume state must have integer epoch >= 0/);
    assert.throws(() => batches(new RampDataset(0, 1, null), { batchSize: 1, shuffle: false }).next(), (e: Error) => e instanceof DataError && /is empty/.test(e.message));
  });
});
