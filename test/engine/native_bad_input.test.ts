// Engine-wide robustness of the raw native addon: for every function it exports, wrong argument
// types, too few arguments, wrong buffer sizes and hostile integers must throw a JavaScript Error
// whose message names the op and the argument, and must never crash the process. The whole probe
// runs first in a child process, so a crash fails a test instead of killing the runner.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { addon } from '../../src/backend/native/loader.js';

type Fn = (...args: unknown[]) => unknown;

/** A valid call of one addon function, from which the bad calls are derived. */
interface Entry {
  /** Argument names as the C++ side spells them in its messages, one per argument. */
  names: string[];
  /** A valid argument list (small sizes). */
  args: () => unknown[];
  /** Op names the messages may start with (default: the function's own name). */
  ops?: string[];
  /** How many leading arguments make a complete call (default: all; a trailing optional bias is fewer). */
  complete?: number;
  /** Buffers of any length (a draw's output sets its own size): not probed with wrong sizes. */
  freeSize?: string[];
}

const f32 = (n: number, v = 0.5): Float32Array => new Float32Array(n).fill(v);
const i32 = (...v: number[]): Int32Array => Int32Array.from(v);

// Shapes used below. conv: N=1, H=4, W=5, Cin=2, Cout=3, 3x3 kernel, stride 1, padding 1 -> (1, 4, 5, 3).
const convGeometry = (): Int32Array => i32(1, 4, 5, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1);
// matmul: batch 2, M=3, N=4, K=5, no transposes or broadcasting.
const matmulParams = (): Int32Array => i32(2, 3, 4, 5, 0, 0, 0, 0);
// The scalar kernels name their messages after the op code's function (any of these when the code is hostile).
const SCALAR_OPS = ['scalar', 'addScalar', 'subScalar', 'rsubScalar', 'mulScalar', 'divScalar', 'powScalar', 'clamp'];

/** Valid calls of the functions known when this test was written (other families may add more). */
const TABLE: Record<string, Entry> = {
  axpy: { names: ['dst', 'src', 'alpha'], args: () => [f32(6), f32(6), 2] },
  unary: { names: ['op', 'x', 'out'], args: () => [0, f32(6), f32(6)] },
  unaryBackward: { names: ['op', 'x', 'y', 'gy', 'gx'], args: () => [0, f32(6), f32(6), f32(6), f32(6)] },
  conv2dForward: { names: ['geometry', 'x', 'w', 'b', 'y'], args: () => [convGeometry(), f32(40), f32(54), f32(3), f32(60)] },
  conv2dBackwardData: { names: ['geometry', 'gy', 'w', 'gx'], args: () => [convGeometry(), f32(60), f32(54), f32(40)] },
  conv2dBackwardWeights: {
    names: ['geometry', 'x', 'gy', 'gw', 'gb'],
    args: () => [convGeometry(), f32(40), f32(60), f32(54), f32(3)],
    complete: 4,
  },
  matmul: { names: ['params', 'a', 'b', 'bias', 'c', 'alpha'], args: () => [matmulParams(), f32(30), f32(40), f32(4), f32(24), 1] },
  binary: {
    names: ['op', 'a', 'aShape', 'b', 'bShape', 'out', 'outShape'],
    args: () => [0, f32(6), i32(2, 3), f32(3), i32(3), f32(6), i32(2, 3)],
    ops: ['binary', 'add', 'sub', 'mul', 'div'],
  },
  where: {
    names: ['mask', 'maskShape', 'a', 'aShape', 'b', 'bShape', 'out', 'outShape'],
    args: () => [f32(6, 1), i32(2, 3), f32(6), i32(2, 3), f32(3), i32(3), f32(6), i32(2, 3)],
  },
  broadcastTo: { names: ['x', 'xShape', 'out', 'outShape'], args: () => [f32(3), i32(3), f32(6), i32(2, 3)] },
  reduceSum: { names: ['x', 'xShape', 'out', 'outShape'], args: () => [f32(6), i32(2, 3), f32(3), i32(1, 3)] },
  scalar: { names: ['op', 'x', 's', 't', 'out'], args: () => [0, f32(6), 2, 0, f32(6)], ops: SCALAR_OPS },
  scalarBackward: {
    names: ['op', 'x', 's', 't', 'gy', 'gx'],
    args: () => [0, f32(6), 2, 0, f32(6), f32(6)],
    ops: ['scalarBackward', ...SCALAR_OPS],
  },
  sqDiffSum: { names: ['pred', 'target'], args: () => [f32(6), f32(6, 1)], ops: ['mseLoss'] },
  sqDiff: { names: ['pred', 'target', 'out'], args: () => [f32(6), f32(6, 1), f32(6)], ops: ['mseLoss'] },
  sqDiffBackward: { names: ['pred', 'target', 'gy', 'scale', 'g'], args: () => [f32(6), f32(6, 1), f32(1), 1, f32(6)], ops: ['mseLoss'] },
  permute: { names: ['x', 'shape', 'axes', 'out'], args: () => [f32(6), i32(2, 3), i32(1, 0), f32(6)] },
  concat: { names: ['xs', 'outer', 'inners', 'out'], args: () => [[f32(4), f32(6)], 2, i32(2, 3), f32(10)] },
  split: { names: ['x', 'outer', 'inners', 'outs'], args: () => [f32(10), 2, i32(2, 3), [f32(4), f32(6)]] },
  upsampleNearest2x: { names: ['x', 'n', 'h', 'w', 'c', 'out'], args: () => [f32(12), 1, 2, 3, 2, f32(48)] },
  upsampleNearest2xBackward: { names: ['gy', 'n', 'h', 'w', 'c', 'gx'], args: () => [f32(48), 1, 2, 3, 2, f32(12)] },
  embedding: { names: ['weight', 'v', 'd', 'indices', 'out'], args: () => [f32(15), 5, 3, i32(0, 4, 2, 1), f32(12)] },
  embeddingBackward: { names: ['gy', 'indices', 'v', 'd', 'gw'], args: () => [f32(12), i32(0, 4, 2, 1), 5, 3, f32(15)] },
  groupNormForward: {
    names: ['x', 'gamma', 'beta', 'y', 'mean', 'rstd', 'n', 's', 'c', 'groups', 'eps', 'silu'],
    args: () => [f32(24), f32(4), f32(4), f32(24), f32(4), f32(4), 2, 3, 4, 2, 1e-5, true],
  },
  groupNormBackward: {
    names: ['x', 'gamma', 'beta', 'mean', 'rstd', 'gy', 'gx', 'gGamma', 'gBeta', 'n', 's', 'c', 'groups', 'silu'],
    args: () => [f32(24), f32(4), f32(4), f32(4), f32(4, 1), f32(24), f32(24), f32(4), f32(4), 2, 3, 4, 2, true],
  },
  layerNormForward: {
    names: ['x', 'gamma', 'beta', 'y', 'mean', 'rstd', 'rows', 'd', 'eps'],
    args: () => [f32(6), f32(3), f32(3), f32(6), f32(2), f32(2), 2, 3, 1e-5],
  },
  layerNormBackward: {
    names: ['x', 'gamma', 'mean', 'rstd', 'gy', 'gx', 'gGamma', 'gBeta', 'rows', 'd'],
    args: () => [f32(6), f32(3), f32(2), f32(2, 1), f32(6), f32(6), f32(3), f32(3), 2, 3],
  },
  softmaxForward: { names: ['x', 'y', 'rows', 'd'], args: () => [f32(6), f32(6), 2, 3] },
  softmaxBackward: { names: ['y', 'gy', 'gx', 'rows', 'd'], args: () => [f32(6), f32(6), f32(6), 2, 3] },
  // attention: b=1, lq=2, lk=3, 2 heads of 2 channels (q, o: 8 values; k, v: 12; p: 12).
  attentionForward: {
    names: ['q', 'k', 'v', 'o', 'p', 'b', 'lq', 'lk', 'heads', 'dh', 'scale'],
    args: () => [f32(8), f32(12), f32(12), f32(8), f32(12), 1, 2, 3, 2, 2, 0.5],
  },
  attentionBackward: {
    names: ['q', 'k', 'v', 'p', 'go', 'gq', 'gk', 'gv', 'b', 'lq', 'lk', 'heads', 'dh', 'scale'],
    args: () => [f32(8), f32(12), f32(12), f32(12), f32(8), f32(8), f32(12), f32(12), 1, 2, 3, 2, 2, 0.5],
  },
  adamwStep: {
    names: ['param', 'grad', 'expAvg', 'expAvgSq', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'step'],
    args: () => [f32(6), f32(6), f32(6), f32(6), 1e-3, 0.9, 0.999, 1e-8, 1e-2, 1],
  },
  emaUpdate: { names: ['shadow', 'param', 'decay'], args: () => [f32(6), f32(6), 0.9] },
  philox4x32: { names: ['counter', 'key', 'out'], args: () => [new Uint32Array(4), new Uint32Array(2), new Uint32Array(4)] },
  philoxUniform: { names: ['out', 'keyLo', 'keyHi', 'offsetLo', 'offsetHi'], args: () => [f32(6), 1, 2, 3, 4], freeSize: ['out'] },
  philoxNormal: {
    names: ['out', 'keyLo', 'keyHi', 'offsetLo', 'offsetHi', 'mean', 'std'],
    args: () => [f32(6), 1, 2, 3, 4, 0, 1],
    freeSize: ['out'],
  },
  setNumThreads: { names: ['n'], args: () => [addon().nativeInfo().threads] },
  // Benchmark baselines (bench/kernels.ts): numbers only, so no buffer sizes to get wrong.
  benchConvBare: {
    names: ['n', 'h', 'w', 'cin', 'cout', 'k', 'stride', 'pad', 'pass', 'iters'],
    args: () => [1, 4, 5, 2, 3, 3, 1, 1, 0, 1],
  },
  benchMatmulBare: { names: ['m', 'n', 'k', 'iters'], args: () => [2, 3, 4, 1] },
};

/** Functions that take no arguments (extra ones are ignored): they must simply not crash. */
const NO_ARGS = new Set(['nativeInfo', 'conv2dCacheSize', 'matmulCacheSize']);
/** Functions not in the table that are never called with junk: a benchmark may run long with defaults. */
const NEVER_CALL = /bench/i;
/**
 * No hostile integers: setNumThreads would change process-wide state, and a benchmark's sizes and
 * iteration counts are meant to be large (a huge one runs long rather than failing).
 */
const NO_HOSTILE = new Set(['setNumThreads', 'benchConvBare', 'benchMatmulBare']);

/** One probe outcome; `pass` false carries what went wrong. */
interface CaseResult {
  fn: string;
  what: string;
  pass: boolean;
  detail: string;
}

/** A value of the wrong type standing in for `v`. */
function wrongType(v: unknown): unknown {
  if (v instanceof Float32Array) return new Float64Array(v.length);
  if (v instanceof Int32Array) return Array.from(v);
  if (v instanceof Uint32Array) return Int32Array.from(v);
  if (Array.isArray(v)) return 'not an array';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return 'x';
}

/** The same kind of buffer one element shorter / longer, or null if `v` is not a buffer. */
function resized(v: unknown, delta: -1 | 1): unknown {
  if (v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint32Array) {
    const n = Math.max(0, v.length + delta);
    const out = new (v.constructor as new (n: number) => Float32Array | Int32Array | Uint32Array)(n);
    out.set(v.subarray(0, Math.min(n, v.length)));
    // A longer shape gets a 7, so its element count changes (a trailing 1 would be legitimate).
    if (delta > 0) out[n - 1] = v instanceof Float32Array ? 0.5 : 7;
    return out;
  }
  if (Array.isArray(v)) return delta < 0 ? v.slice(0, -1) : [...v, v[0]];
  return null;
}

/** Runs `call`; passes if it throws an Error starting with one of `ops` and naming one of `argNames`. */
function expectNamedThrow(fn: string, what: string, ops: string[], argNames: string[], call: () => unknown): CaseResult {
  try {
    call();
  } catch (e) {
    if (!(e instanceof Error)) return { fn, what, pass: false, detail: `threw a non-Error: ${String(e)}` };
    const msg = e.message;
    const opOk = ops.some((op) => msg.startsWith(`${op}:`));
    const argOk = argNames.some((a) => msg.includes(`'${a}`));
    return opOk && argOk
      ? { fn, what, pass: true, detail: msg }
      : { fn, what, pass: false, detail: `message ${JSON.stringify(msg)} does not start with ${ops.join('|')}: or name one of ${argNames.map((a) => `'${a}'`).join(', ')}` };
  }
  return { fn, what, pass: false, detail: 'did not throw' };
}

/** Runs `call`; passes if it returns, or throws an Error whose message starts with one of `ops`. */
function expectNoCrash(fn: string, what: string, ops: string[], call: () => unknown): CaseResult {
  try {
    call();
    return { fn, what, pass: true, detail: 'returned' };
  } catch (e) {
    const ok = e instanceof Error && ops.some((op) => e.message.startsWith(`${op}:`));
    return { fn, what, pass: ok, detail: e instanceof Error ? e.message : `threw a non-Error: ${String(e)}` };
  }
}

/** Every probe of one exported function. */
function probeFunction(name: string, f: Fn): CaseResult[] {
  const results: CaseResult[] = [];
  if (NO_ARGS.has(name)) {
    results.push(expectNoCrash(name, 'junk arguments', [name], () => f('x', new Float64Array(3), null, -1)));
    return results;
  }
  const entry = TABLE[name];
  if (entry === undefined && NEVER_CALL.test(name)) return results;
  if (entry === undefined) {
    // A function added after this table: the generic checks still apply.
    results.push(expectNamedThrow(name, 'no arguments', [name, name.replace(/(Forward|Backward.*)$/, '')], [''], () => f()));
    results.push(expectNoCrash(name, 'string arguments', [name, name.replace(/(Forward|Backward.*)$/, '')], () => f(...Array<string>(14).fill('x'))));
    return results;
  }
  const ops = entry.ops ?? [name];
  const { names } = entry;
  const valid = entry.args();
  if (valid.length !== names.length) {
    results.push({ fn: name, what: 'table', pass: false, detail: `${valid.length} arguments but ${names.length} names` });
    return results;
  }
  // The table itself must be right: its call succeeds.
  results.push(expectNoCrash(name, 'valid call', [], () => f(...entry.args())));
  // Too few arguments: every prefix short of a complete call.
  for (let k = 0; k < (entry.complete ?? names.length); k++) {
    results.push(expectNamedThrow(name, `only ${k} arguments`, ops, names.slice(k), () => f(...entry.args().slice(0, k))));
  }
  names.forEach((argName, i) => {
    // Wrong type in position i: the message must name exactly that argument.
    const bad = entry.args();
    bad[i] = wrongType(bad[i]);
    results.push(expectNamedThrow(name, `wrong type for '${argName}'`, ops, [argName], () => f(...bad)));
    // Wrong size: a buffer one shorter or longer; the message names the mismatched argument.
    for (const delta of [-1, 1] as const) {
      if (entry.freeSize?.includes(argName)) break;
      const args = entry.args();
      const r = resized(args[i], delta);
      if (r === null) continue;
      args[i] = r;
      results.push(expectNamedThrow(name, `'${argName}' ${delta < 0 ? 'one shorter' : 'one longer'}`, ops, names, () => f(...args)));
    }
  });
  if (!NO_HOSTILE.has(name)) {
    // Hostile integers must never crash (sizes that overflow, negatives, non-integers).
    const template = entry.args();
    template.forEach((v, i) => {
      const variants: unknown[] = [];
      if (typeof v === 'number' && Number.isInteger(v)) variants.push(-1, 2 ** 32, 2 ** 53, 1.5, NaN, Infinity);
      if (v instanceof Int32Array) variants.push(new Int32Array(v.length).fill(-1), new Int32Array(v.length).fill(0x7fffffff), new Int32Array(v.length).fill(65536));
      for (const h of variants) {
        const args = entry.args();
        args[i] = h;
        results.push(expectNoCrash(name, `hostile '${names[i]}' = ${h instanceof Int32Array ? `[${h[0]}, ...]` : String(h)}`, ops, () => f(...args)));
      }
    });
    // Every buffer empty and every shape entry 65536 (products that wrap to 0 in 64 bits).
    const empties = entry.args().map((v) => (v instanceof Float32Array ? new Float32Array(0) : v instanceof Int32Array ? new Int32Array(v.length).fill(65536) : v));
    results.push(expectNoCrash(name, 'empty buffers with huge shapes', ops, () => f(...empties)));
  }
  return results;
}

/** Probes every function the addon exports, enumerated at run time. */
function probeAll(): CaseResult[] {
  const raw = addon() as unknown as Record<string, unknown>;
  const threads = addon().nativeInfo().threads;
  const out: CaseResult[] = [];
  for (const [name, v] of Object.entries(raw)) {
    if (typeof v === 'function') out.push(...probeFunction(name, v as Fn));
  }
  addon().setNumThreads(threads);
  return out;
}

const CHILD_ENV = 'DIFFUSE_BAD_INPUT_CHILD';

if (process.env[CHILD_ENV] === '1') {
  // Child mode: print the results as one JSON line and exit.
  process.stdout.write(`${JSON.stringify(probeAll())}\n`);
} else {
  const failures = (rs: CaseResult[]): string =>
    rs.filter((r) => !r.pass).map((r) => `  ${r.fn}: ${r.what}: ${r.detail}`).join('\n');
  let childOk = false;

  describe('native addon: bad input straight to the addon', () => {
    it('survives every bad call in a child process (a crash fails here instead of killing the runner)', () => {
      const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
        env: { ...process.env, [CHILD_ENV]: '1' },
        encoding: 'utf8',
        timeout: 60_000,
        maxBuffer: 64 << 20,
      });
      assert.equal(child.signal, null, `the child was killed by ${child.signal}; stderr:\n${child.stderr.slice(-2000)}`);
      assert.equal(child.status, 0, `the child exited with ${child.status}; stderr:\n${child.stderr.slice(-2000)}`);
      const results = JSON.parse(child.stdout.trim().split('\n').pop() ?? '[]') as CaseResult[];
      assert.ok(results.length > 100, `only ${results.length} cases ran`);
      assert.equal(failures(results), '', 'failed cases');
      childOk = true;
    });

    it('every function of the table is exported (the table is not stale)', () => {
      const raw = addon() as unknown as Record<string, unknown>;
      const missing = Object.keys(TABLE).filter((k) => typeof raw[k] !== 'function');
      assert.deepEqual(missing, []);
    });

    const raw = addon() as unknown as Record<string, unknown>;
    for (const [name, v] of Object.entries(raw)) {
      if (typeof v !== 'function') continue;
      it(`${name}: wrong types, too few arguments, wrong sizes and hostile integers throw named errors`, (t) => {
        if (!childOk) {
          t.skip('the child-process probe failed; not repeating it in the runner');
          return;
        }
        if (TABLE[name] === undefined && !NO_ARGS.has(name)) t.diagnostic(`${name} has no entry in the table: only generic checks ran`);
        const rs = probeFunction(name, v as Fn);
        if (name === 'setNumThreads') addon().setNumThreads(addon().nativeInfo().threads);
        assert.equal(failures(rs), '', 'failed cases');
      });
    }
  });
}
