/** Scale-free closeness: normalised mean squared error plus max-abs error. */
import assert from 'node:assert/strict';

type Arr = ArrayLike<number>;

/** sum((a-b)^2) / max(sum(b^2), tiny): 0 for identical, ~1 for unrelated. NaNs must match position. */
export function nmse(a: Arr, b: Arr): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) return Infinity;
      continue;
    }
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x !== y) return Infinity;
      continue;
    }
    num += (x - y) ** 2;
    den += y * y;
  }
  return num / Math.max(den, 1e-30);
}

export function maxAbs(a: Arr, b: Arr): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) {
      if (Number.isNaN(a[i]!) && Number.isNaN(b[i]!)) continue;
      if (a[i] === b[i]) continue; // equal infinities
      return Infinity;
    }
    if (d > m) m = d;
  }
  return m;
}

export function maxAbsValue(a: Arr): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]!) > m) m = Math.abs(a[i]!);
  return m;
}

/**
 * Asserts `actual` is close to `expected`: nmse <= `nmseTol` and max-abs <= `absTol` (relative to
 * the reference's scale, max(1, max|expected|)).
 */
export function assertClose(
  actual: Arr,
  expected: Arr,
  { nmseTol = 1e-10, absTol = 1e-5, what = 'values' }: { nmseTol?: number; absTol?: number; what?: string } = {},
): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length}, expected ${expected.length}`);
  const e = nmse(actual, expected);
  const m = maxAbs(actual, expected);
  const scale = Math.max(1, maxAbsValue(expected));
  assert.ok(e <= nmseTol, `${what}: nmse ${e.toExponential(3)} > ${nmseTol} (max-abs ${m.toExponential(3)})`);
  assert.ok(m <= absTol * scale, `${what}: max-abs ${m.toExponential(3)} > ${absTol} * ${scale.toPrecision(3)} (nmse ${e.toExponential(3)})`);
}
