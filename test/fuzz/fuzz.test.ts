/**
 * The fuzz suite in CI (issue 14): every target with a fixed seed and a bounded count of cases,
 * decompression bombs included, two worker processes with a 1.5 GB resident-memory bound; each
 * target must keep the invariant on every case (a success or a clear error naming the input;
 * no crash, hang, 5xx, leaked path or unbounded memory). A failure prints the case, what broke
 * and where its files were kept (`npm run fuzz -- --target T --seed S --case I` makes it again).
 * First the harness checks itself: each known bad behaviour is seen for what it is.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from './pool.js';
import { Rng } from './rng.js';
import { mutateBytes } from './mutators/bytes.js';
import { mutateJson } from './mutators/json.js';
import { TARGETS } from './targets/index.js';
import { SELF_TEST_BEHAVIOURS, type SelfTestBehaviour } from './targets/self_test.js';
import { runFuzz, formatSummary, type FuzzSummary } from './runner.js';
import type { FailureKind } from './target.js';

/** Cases per target in CI (about a minute and a half in all on 2 busy cores, once the bombs are refused early). */
const CI_CASES = 60;
const CI_SEED = 'ci-2026';
const GB = 2 ** 30;

describe('fuzz harness', () => {
  it('makes the same mutations from the same seed, and different ones from another', () => {
    const input = Buffer.from('{"a": [1, 2, {"b": "c"}], "d": 3.5}');
    const run = (seed: string) => Array.from({ length: 20 }, () => 0).map((_, i) => {
      const rng = new Rng(`${seed}:${i}`);
      return `${mutateBytes(rng, input).toString('hex')}|${mutateJson(rng, input.toString()).text}`;
    });
    assert.deepEqual(run('s1'), run('s1'));
    assert.notDeepEqual(run('s1'), run('s2'));
  });

  it('sees each known bad behaviour for what it is (crash, uncaught, memory, hang, raw or unnamed errors)', async () => {
    const expected: Record<SelfTestBehaviour, FailureKind[]> = {
      ok: [], named: [], unnamed: ['unnamed-error'], 'type-error': ['foreign-error'], signal: ['crash'], uncaught: ['crash'], memory: ['memory'], hang: ['timeout'],
    };
    // A low bound: page faults are slow on a busy machine, and the worker itself holds about 200 MB.
    const pool = new Pool({ size: 1, memoryLimit: 0.5 * GB });
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-fuzz-self-'));
    try {
      for (const b of SELF_TEST_BEHAVIOURS) {
        const r = await pool.run('self-test', b, dir, b === 'memory' ? 60_000 : 4_000);
        assert.deepEqual(r.violations.map((v) => v.kind), expected[b], `${b}: ${JSON.stringify(r.violations)}`);
      }
      // A dead or killed worker is replaced, and the next case runs: 1 + signal + uncaught + memory + hang.
      assert.deepEqual((await pool.run('self-test', 'ok', dir, 4_000)).violations, []);
      assert.equal(pool.starts, 5);
    } finally {
      pool.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(`fuzz: ${CI_CASES} cases per target, seed ${CI_SEED}`, () => {
  let summary: FuzzSummary;
  let outDir: string;
  before(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'diffuse-fuzz-ci-'));
    summary = await runFuzz({ targets: TARGETS, seed: CI_SEED, count: CI_CASES, outDir, workers: 2, memoryLimit: 1.5 * GB, heavy: true });
    process.stderr.write(`${formatSummary(summary)}\n`);
  });
  // The failing cases' files stay for inspection; a clean run leaves nothing behind.
  after(() => {
    if (summary !== undefined && summary.distinct.length === 0) rmSync(outDir, { recursive: true, force: true });
  });

  for (const t of TARGETS) {
    it(`${t.name}: every case keeps the invariant (${t.description})`, () => {
      const s = summary.perTarget[t.name]!;
      assert.equal(s.cases, CI_CASES, `${t.name} ran ${s.cases} cases`);
      const failures = summary.distinct.filter((d) => d.target === t.name);
      const report = failures.map((d) => {
        const saved = JSON.parse(readFileSync(join(d.example.folder, 'case.json'), 'utf8')) as { reproduce: string };
        return `${d.kind} x${d.count}: ${d.example.detail}\n  case ${d.example.index}: ${d.example.note}\n  files: ${d.example.folder}\n  again: ${saved.reproduce}`;
      });
      assert.equal(failures.length, 0, `${t.name}: ${s.failedCases} of ${s.cases} cases broke the invariant:\n${report.join('\n')}`);
    });
  }
});
