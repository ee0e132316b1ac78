/**
 * Fault injection on the feature net's save (FeatureNet.savePretrained, what `diffuse
 * train-feature-net` writes its result with; that command has no --resume): a child process
 * overwriting an existing feature-net folder is killed (SIGKILL) at every file operation, and
 * failed with ENOSPC at every write. After each fault the folder holds the old net, the new one,
 * or none (no config.json), never a config with other weights; the next save leaves no temporary.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FeatureNet } from '../../src/eval/feature_net.js';
import { Generator } from '../../src/tensor/random.js';
import { inLanes, leftovers, readOpLog, tempDir } from './harness.js';

const CONFIG = { imageSize: 8, inChannels: 1, numClasses: 2, channels: [4, 4], normNumGroups: 2 };
const MODULE = fileURLToPath(new URL('../../src/eval/feature_net.js', import.meta.url));
const RANDOM = fileURLToPath(new URL('../../src/tensor/random.js', import.meta.url));

/** Saves a new net (seed 2) into `dir` in a child process with DIFFUSE_FAULT = `fault`. */
function saveInChild(dir: string, fault: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const script = `import { FeatureNet } from ${JSON.stringify(MODULE)}; import { Generator } from ${JSON.stringify(RANDOM)};
new FeatureNet(${JSON.stringify(CONFIG)}, { gen: new Generator(2) }).savePretrained(${JSON.stringify(dir)});`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, DIFFUSE_FAULT: fault }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((res) => child.on('close', (code, signal) => res({ code, signal, stderr })));
}

describe('fault injection: the feature net folder (train-feature-net)', () => {
  let root = '';
  let oldDir = '';
  let newDir = '';
  let ops: ReturnType<typeof readOpLog> = [];
  const weights = (d: string): Buffer => readFileSync(join(d, 'model.safetensors'));

  before(async () => {
    root = tempDir('feature-net');
    oldDir = join(root, 'old');
    new FeatureNet(CONFIG, { gen: new Generator(1) }).savePretrained(oldDir);
    newDir = join(root, 'new');
    cpSync(oldDir, newDir, { recursive: true });
    const log = join(root, 'ops.log');
    const r = await saveInChild(newDir, `log:${log}`);
    assert.equal(r.code, 0, r.stderr);
    ops = readOpLog(log);
    assert.ok(!weights(oldDir).equals(weights(newDir)), 'the two nets differ');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** The folder holds the old net, the new one, or none; returns which. */
  const state = (dir: string, where: string): 'old' | 'new' | 'none' => {
    if (!existsSync(join(dir, 'config.json'))) {
      assert.throws(() => FeatureNet.fromPretrained(dir), /no config\.json/, where);
      return 'none';
    }
    FeatureNet.fromPretrained(dir);
    if (weights(dir).equals(weights(oldDir))) return 'old';
    assert.ok(weights(dir).equals(weights(newDir)), `${where}: config.json beside weights of neither net (torn)`);
    return 'new';
  };

  it('SIGKILL at every file operation, and ENOSPC at every write, of overwriting a feature net: the old net, the new one or none, never a torn one', async () => {
    const cases = [...ops.map((o) => ({ fault: `kill@any:${o.n}`, o })), ...ops.filter((o) => o.kind === 'write').map((o) => ({ fault: `enospc@write:${o.k}`, o }))];
    const seen = new Set<string>();
    await inLanes(cases, async ({ fault, o }, i) => {
      const dir = join(root, `case-${i}`);
      cpSync(oldDir, dir, { recursive: true });
      const r = await saveInChild(dir, fault);
      const where = `${fault} (${o.kind} ${o.path})`;
      if (fault.startsWith('kill')) assert.equal(r.signal, 'SIGKILL', where);
      else {
        assert.equal(r.code, 1, where);
        assert.match(r.stderr, /DiskFullError: .*model\.safetensors|config\.json.*the disk is full/, where);
        assert.deepEqual(leftovers(dir), [], `${where}: temporary files left`);
      }
      seen.add(state(dir, where));
      // The next save succeeds and leaves no temporary file.
      new FeatureNet(CONFIG, { gen: new Generator(2) }).savePretrained(dir);
      assert.equal(state(dir, `${where}, then saved again`), 'new');
      assert.deepEqual(leftovers(dir), [], `${where}: temporary files left after the next save`);
      rmSync(dir, { recursive: true, force: true });
    });
    assert.deepEqual([...seen].sort(), ['new', 'none', 'old']);
    process.stderr.write(`# fault cases: feature net save, SIGKILL ${ops.length}, ENOSPC ${cases.length - ops.length}\n`);
  });
});
