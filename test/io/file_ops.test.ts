/**
 * Tests of the file-operation layer and the durable atomic writes built on it: the DIFFUSE_FAULT
 * plan's grammar, the operations a file and a folder write perform (every file flushed before its
 * rename, every folder flushed, the parent after the rename), ENOSPC as a DiskFullError naming
 * the path with no temporary left, and the cleaning of dead writers' leftovers.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskFullError, parseFaultPlan, setFaultPlan } from '../../src/io/file_ops.js';
import { cleanStaleTemps, removeDirAtomic, writeDirAtomic, writeFileAtomic } from '../../src/io/atomic.js';

const DEAD = 99999999;
const ops = (log: string): string[] => readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(1, 2).concat(l.split(' ').slice(3).join(' ').split('/').pop()!).join(' '));

describe('file operations and atomic writes', () => {
  afterEach(() => setFaultPlan(null));

  it('parses fault plans and names a bad one', () => {
    assert.deepEqual(parseFaultPlan('kill@rename:3'), { action: 'kill', kind: 'rename', n: 3 });
    assert.deepEqual(parseFaultPlan('enospc@any:12'), { action: 'enospc', kind: 'any', n: 12 });
    assert.deepEqual(parseFaultPlan('log:/tmp/x.log'), { action: 'log', file: '/tmp/x.log' });
    for (const bad of ['kill@rename:0', 'kill@chmod:1', 'boom@write:1', 'kill@write', 'log:']) {
      assert.throws(() => parseFaultPlan(bad), (e: Error) => e.message.includes(`DIFFUSE_FAULT='${bad}'`) && /kill@KIND:N/.test(e.message), bad);
    }
  });

  it('a file write flushes the file before its rename and the folder after; a folder write flushes every folder and the parent', () => {
    const d = mkdtempSync(join(tmpdir(), 'diffuse-fileops-'));
    try {
      const log = join(d, 'ops.log');
      setFaultPlan(`log:${log}`);
      writeFileAtomic(join(d, 'a.json'), Buffer.from('{}'));
      const file = ops(log);
      assert.deepEqual(file.map((o) => o.split(' ')[0]), ['open', 'write', 'fsync', 'rename', 'fsync']);
      assert.match(file[2]!, /^fsync \.a\.json\.\d+\.\d+\.tmp$/);
      assert.equal(file[4], `fsync ${d.split('/').pop()}`);
      rmSync(log);
      setFaultPlan(`log:${log}`);
      writeDirAtomic(join(d, 'out'), (tmp) => {
        mkdirSync(join(tmp, 'sub'));
        writeFileAtomic(join(tmp, 'sub', 'w.bin'), [Buffer.from('ab'), Buffer.from('cd')]);
      });
      const dir = ops(log).map((o) => o.split(' ')[0]);
      // mkdir tmp; the file (open, write, fsync, rename; its folder is flushed with the tree); sub, tmp; rename; parent.
      assert.deepEqual(dir, ['mkdir', 'open', 'write', 'fsync', 'rename', 'fsync', 'fsync', 'rename', 'fsync']);
      assert.equal(readFileSync(join(d, 'out', 'sub', 'w.bin'), 'utf8'), 'abcd');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('ENOSPC at a write is a DiskFullError naming the file; nothing temporary is left and the old content stays', () => {
    const d = mkdtempSync(join(tmpdir(), 'diffuse-fileops-'));
    try {
      writeFileSync(join(d, 'keep.json'), 'old');
      setFaultPlan('enospc@write:1');
      assert.throws(() => writeFileAtomic(join(d, 'keep.json'), Buffer.from('new content')), (e: unknown) => e instanceof DiskFullError && /keep\.json.*: the disk is full \(ENOSPC when trying to write it\); free space/.test(e.message));
      assert.deepEqual(readdirSync(d), ['keep.json']);
      assert.equal(readFileSync(join(d, 'keep.json'), 'utf8'), 'old');
      setFaultPlan('enospc@write:2');
      assert.throws(() => writeDirAtomic(join(d, 'out'), (tmp) => {
        writeFileAtomic(join(tmp, 'one'), Buffer.from('1'));
        writeFileAtomic(join(tmp, 'two'), Buffer.from('2'));
      }), DiskFullError);
      assert.deepEqual(readdirSync(d), ['keep.json']);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("cleans dead writers' leftovers, puts back a folder left only as .old-, and keeps a running writer's", () => {
    const d = mkdtempSync(join(tmpdir(), 'diffuse-fileops-'));
    try {
      mkdirSync(join(d, `.old-model-${DEAD}-1`));
      writeFileSync(join(d, `.old-model-${DEAD}-1`, 'x'), 'old model');
      mkdirSync(join(d, `.tmp-model-${DEAD}-2`));
      mkdirSync(join(d, `.trash-step-0000001-${DEAD}-3`));
      writeFileSync(join(d, `.latest.json.${DEAD}.4.tmp`), '{');
      // A live writer: this test's parent process.
      writeFileSync(join(d, `.latest.json.${process.ppid}.5.tmp`), '{');
      const r = cleanStaleTemps(d);
      assert.equal(r.restored.length, 1);
      assert.equal(r.removed.length, 3);
      assert.deepEqual(readdirSync(d).sort(), [`.latest.json.${process.ppid}.5.tmp`, 'model']);
      assert.equal(readFileSync(join(d, 'model', 'x'), 'utf8'), 'old model');
      removeDirAtomic(join(d, 'model'));
      assert.equal(existsSync(join(d, 'model')), false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
