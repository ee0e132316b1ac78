/**
 * The Dormand-Prince RK45 solver against scipy's solve_ivp (the accepted times and solution of the
 * exponential-decay example in solve_ivp's documentation), against closed-form solutions (error
 * controlled by the tolerance, in either direction of time), and its order (a halved fixed step
 * cuts the error of a step ~32x, order 5).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rk45, rmsNorm, OdeSolverError } from '../../src/sde/rk45.js';
import { ArgumentError } from '../../src/tensor/errors.js';

test("rk45 reproduces scipy's solve_ivp(exponential_decay, [0, 10], [2, 4, 8]) step for step", () => {
  const r = rk45((_t, y) => y.map((v) => -0.5 * v), 0, 10, [2, 4, 8]);
  // scipy.integrate.solve_ivp docs: sol.t and the last column of sol.y (defaults rtol 1e-3, atol 1e-6).
  const scipyT = [0, 0.11487653, 1.26364188, 3.06061781, 4.81611105, 6.57445806, 8.33328988, 10];
  assert.equal(r.ts.length, scipyT.length);
  r.ts.forEach((t, i) => assert.ok(Math.abs(t - scipyT[i]!) < 1e-8, `t[${i}] = ${t}, scipy ${scipyT[i]}`));
  assert.ok(Math.abs(r.y[0]! - 0.01350781) < 1e-8 && Math.abs(r.y[1]! - 0.02701561) < 1e-8);
  // 1 evaluation at t0, 1 for the starting step, 6 per accepted step (no rejections here).
  assert.equal(r.rejected, 0);
  assert.equal(r.nfe, 2 + 6 * r.accepted);
});

test('rk45: the error against closed forms shrinks with the tolerance, forwards and backwards in time', () => {
  // y'' = -y as a system: y = (cos t, -sin t).
  const osc = (_t: number, y: Float64Array) => Float64Array.of(y[1]!, -y[0]!);
  let lastErr = Infinity;
  let lastNfe = 0;
  for (const tol of [1e-4, 1e-6, 1e-8, 1e-10]) {
    const r = rk45(osc, 0, 5, [1, 0], { rtol: tol, atol: tol });
    const err = Math.hypot(r.y[0]! - Math.cos(5), r.y[1]! + Math.sin(5));
    assert.ok(err < 100 * tol, `tol ${tol}: error ${err}`);
    assert.ok(err < lastErr && r.nfe > lastNfe, `tighter tolerance, smaller error and more evaluations (tol ${tol})`);
    lastErr = err;
    lastNfe = r.nfe;
  }
  // Time-dependent right-hand side backwards: y' = cos t from t = 2 to 0, y(2) = sin 2.
  const back = rk45((t) => Float64Array.of(Math.cos(t)), 2, 0, [Math.sin(2)], { rtol: 1e-9, atol: 1e-12 });
  assert.ok(Math.abs(back.y[0]!) < 1e-9 && back.ts[back.ts.length - 1] === 0);
});

test('rk45 is 5th order: the local error of one step of y\' = y falls 2^6-fold when h halves', () => {
  // y' = y: a single step with firstStep h and a loose tolerance; local error of a 5th-order method is O(h^6).
  const localErr = (h: number): number => Math.abs(rk45((_t, y) => y.slice(), 0, h, [1], { firstStep: h, rtol: 1, atol: 1 }).y[0]! - Math.exp(h));
  const ratio = localErr(0.2) / localErr(0.1);
  assert.ok(Math.log2(ratio) > 5.7 && Math.log2(ratio) < 6.3, `observed local order ${Math.log2(ratio) - 1}`);
});

test('rk45: bad input and a right-hand side that returns NaN give named errors', () => {
  assert.equal(rmsNorm([3, 4]), Math.sqrt(12.5));
  assert.throws(() => rk45((_t, y) => y, 0, 1, [1], { rtol: 0 }), (e: Error) => e instanceof ArgumentError && /rtol/.test(e.message));
  assert.throws(() => rk45((_t, y) => y.map(() => NaN), 0, 1, [1]), OdeSolverError);
  assert.throws(() => rk45(() => new Float64Array(2), 0, 1, [1]), /expected a Float64Array of 1/);
  const r = rk45((_t, y) => y, 1, 1, [3]);
  assert.equal(r.nfe, 0);
});
