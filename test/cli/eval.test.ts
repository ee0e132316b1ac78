/**
 * `diffuse eval`: bad input is a clear error before any sampling or evaluation (unknown data, n not
 * a multiple of the classes, flags that do not fit the source, a sample folder of the wrong image
 * size or with an unknown class folder); the help lists both halves (quality and --bpd); the
 * report table.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { run, help, formatReport } from '../../src/cli/commands/eval.js';
import { bpdHelp } from '../../src/cli/commands/eval_bpd.js';
import { FeatureNet } from '../../src/eval/feature_net.js';
import { classOfFolder } from '../../src/eval/sample_folder.js';
import { FASHION_MNIST_CLASSES } from '../../src/data/index.js';
import { DiffuseError } from '../../src/tensor/errors.js';

describe('diffuse eval', () => {
  let root = '';
  let fn = '';
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'diffuse-eval-'));
    fn = join(root, 'fn');
    new FeatureNet({ channels: [8, 8], normNumGroups: 4 }).savePretrained(fn);
    // A folder of 32x32 images where 28x28 are expected, and one with an unknown class folder.
    const img = (size: number) => sharp(Buffer.alloc(size * size), { raw: { width: size, height: size, channels: 1 } }).toColourspace('b-w').png();
    mkdirSync(join(root, 'big', '3'), { recursive: true });
    await img(28).toFile(join(root, 'big', '3', '00000.png'));
    await img(32).toFile(join(root, 'big', '3', '00001.png'));
    mkdirSync(join(root, 'odd', 'hats'), { recursive: true });
    await img(28).toFile(join(root, 'odd', 'hats', '00000.png'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const fails = async (argv: string[], pattern: RegExp) => {
    await assert.rejects(run(argv), (e: unknown) => e instanceof DiffuseError && pattern.test((e as Error).message));
  };

  it('names an unknown dataset, and a missing one', async () => {
    await fails(['--data', 'cifar10'], /--data must be fashion-mnist, mnist or an existing folder DIR\/<class>\/\*\.png, found 'cifar10' \(no such folder\)/);
    await fails([], /--data is required: fashion-mnist, mnist, or a folder DIR\/<class>\/\*\.png of your own images/);
  });

  it('needs --n to be a positive multiple of the classes', async () => {
    await fails(['--data', 'fashion-mnist', '--n', '1005', '--feature-net', fn], /--n must be a positive multiple of the 10 classes \(class-balanced samples\), found 1005/);
    await fails(['--data', 'mnist', '--n', '0'], /--n must be an integer >= 1, found '0'/);
    await fails(['--data', 'mnist', '--n', '12.5'], /--n must be an integer >= 1, found '12.5'/);
  });

  it('refuses flags that do not fit the source, and bad numbers', async () => {
    await fails(['--data', 'mnist', '--samples', root, '--real'], /--samples and --real each choose what to evaluate; give one/);
    await fails(['--data', 'mnist', '--real', '--sampler', 'ddim'], /--sampler applies when generating samples; with --real nothing is generated/);
    await fails(['--data', 'mnist', '--samples', root, '--n', '10'], /with --samples every image in the folder is evaluated/);
    await fails(['--data', 'mnist', '--sampler', 'nope'], /--sampler: unknown sampler 'nope'; 'diffuse samplers' lists them all/);
    await fails(['--data', 'mnist', '--blur=-1'], /--blur must be a number >= 0, found '-1'/);
    await fails(['--data', 'mnist', '--memorization-quantile', '1'], /--memorization-quantile must be a number in \(0, 1\), found '1'/);
    await assert.rejects(run(['--data', 'mnist', '--bogus']), /unknown option '--bogus' for 'diffuse eval'/);
  });

  it('--test-n N scores against N class-balanced test images (recorded in the report); a bad N is named', async () => {
    await fails(['--data', 'mnist', '--real', '--n', '10', '--test-n', '15', '--feature-net', fn], /--test-n must be a multiple of the 10 classes and at most the 1000 test images of mnist, found 15/);
    await fails(['--data', 'mnist', '--real', '--n', '10', '--test-n', '2000', '--feature-net', fn], /found 2000/);
    await fails(['--data', 'mnist', '--test-n', '0'], /--test-n must be an integer >= 1, found '0'/);
    const out = join(root, 'report.json');
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await run(['--data', 'mnist', '--real', '--n', '10', '--test-n', '20', '--no-cas', '--feature-net', fn, '--out', out]);
    } finally {
      process.stdout.write = write;
    }
    const report = JSON.parse(readFileSync(out, 'utf8')) as { testImages: number; n: number; samples: { precision: number } };
    assert.equal(report.testImages, 20);
    assert.equal(report.n, 10);
    assert.ok(report.samples.precision >= 0 && report.samples.precision <= 1);
  });

  it('names a sample image of the wrong size, and a class folder that names no class', async () => {
    await fails(['--data', 'fashion-mnist', '--samples', join(root, 'big'), '--feature-net', fn], /00001\.png is 32x32 with 1 channel\(s\); the evaluation needs 28x28 images with 1 channel\(s\)/);
    await fails(['--data', 'fashion-mnist', '--samples', join(root, 'odd'), '--feature-net', fn], /class folder 'hats' .* names no class; expected an index 0..9 or one of 'T-shirt\/top'/);
    await fails(['--data', 'fashion-mnist', '--samples', join(root, 'missing'), '--feature-net', fn], /does not exist or cannot be read/);
  });

  it('maps class folders by index or by name, ignoring case and punctuation', () => {
    assert.equal(classOfFolder('3', FASHION_MNIST_CLASSES), 3);
    assert.equal(classOfFolder('T-shirt_top', FASHION_MNIST_CLASSES), 0);
    assert.equal(classOfFolder('ankle-boot', FASHION_MNIST_CLASSES), 9);
    assert.equal(classOfFolder('10', FASHION_MNIST_CLASSES), null);
    // diffuse augment's '<index>_<slug>' names.
    assert.equal(classOfFolder('0_t-shirt-top', FASHION_MNIST_CLASSES), 0);
    assert.equal(classOfFolder('03_dress', FASHION_MNIST_CLASSES), 3);
  });

  it('documents both halves (quality, and --bpd from eval_bpd.ts)', () => {
    assert.ok(help.includes(bpdHelp) && help.includes('--samples DIR') && help.includes('--no-cas'));
  });

  it('formats a report: every figure beside the real one and its bar, the worst classes, the orientation check, per class', () => {
    const kid = { mean: 0.001, std: 0.0002, subsets: 100, subsetSize: 1000 };
    const fig = { frechetDistance: 1.5, kid, precision: 0.7, recall: 0.6 };
    const acc = [0.9, 0.95, 0.8, 0.9, 0.9, 0.9, 0.6, 0.9, 0.9, 0.9];
    const realAcc = [0.9, 0.95, 0.85, 0.9, 0.9, 0.9, 0.7, 0.9, 0.9, 0.9];
    const mirror = [0.5, 0.5, 0.5, 0.5, 0.5, 0.02, 0.5, 0.02, 0.5, 0.45];
    const realMirror = [0.5, 0.5, 0.5, 0.5, 0.5, 0.02, 0.5, 0.02, 0.5, 0.01];
    const table = formatReport({
      n: 1000, numClasses: 10,
      samples: { ...fig, classifierAccuracy: 0.9, classifierAccuracyPerClass: acc, memorisation: { rate: 0.04, threshold: 5, quantile: 0.05, sampleMedian: 7, testMedian: 7 }, mirrorShare: 0.4, mirrorSharePerClass: mirror, cas: 0.8 },
      real: { ...fig, frechetDistance: 0.5, precision: 0.8, recall: 0.8, classifierAccuracy: 0.92, classifierAccuracyPerClass: realAcc, mirrorShare: 0.35, mirrorSharePerClass: realMirror, memorisation: 0.05, cas: 0.85, n: 1000 },
      reference: { testImages: 10000, precisionRecallSize: 1000, neighbours: 3, casSteps: 300 },
      bar: {
        fdRatio: 3, accuracyGap: 0.02, worstClasses: [{ class: 6, samples: 0.6, real: 0.7, gap: 0.1 }, { class: 2, samples: 0.8, real: 0.85, gap: 0.05 }],
        maxClassGap: 0.1, orientationFlagged: [9], casRatio: 0.8 / 0.85, precisionRatio: 0.875, recallRatio: 0.75, memorisationExcess: -0.01, pass: false,
      },
    }, FASHION_MNIST_CLASSES);
    assert.match(table, /^metric +samples \(n=1000\) +real \(n=1000\) +bar$/m);
    assert.match(table, /^Frechet distance +1\.500 +0\.500 +ratio 3\.00 <= 5 ok$/m);
    assert.match(table, /^KID x 1000 +1\.00 \+- 0\.20/m);
    assert.match(table, /^recall +0\.6000 +0\.8000 +ratio 0\.750 >= 0\.8 FAIL$/m);
    assert.match(table, /^classifier accuracy +0\.9000 +0\.9200 \(test\) +gap 2\.0 pts <= 2\.0 pts ok$/m);
    assert.match(table, /^worst classes +Shirt 10\.0 pts, Pullover 5\.0 pts +\(test\) +max gap 10\.0 pts <= 8\.0 pts FAIL$/m);
    assert.match(table, /^mirror more typical +0\.4000 +0\.3500 \(test\) +flagged: Ankle boot FAIL$/m);
    assert.match(table, /^CAS +0\.8000 +0\.8500 +ratio 0\.941 >= 0\.9 ok$/m);
    assert.match(table, /^Ankle boot +0\.900 +0\.900 +0\.450 +0\.010  flagged$/m);
    assert.match(table, /^a bar fails$/m);
  });
});
