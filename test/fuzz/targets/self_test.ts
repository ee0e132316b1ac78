/**
 * Target 'self-test' (never in a fuzz run; the CI test's oracle for the harness itself): each
 * case does one known bad thing (dies on a signal, throws an uncaught error from a timer,
 * allocates past the bound, hangs, throws a raw TypeError, throws a DiffuseError that names the
 * input or one that does not, or succeeds), so the test can check the pool sees each for what it is.
 */
import { DiffuseError } from '../../../src/tensor/errors.js';
import { expectClear } from '../invariant.js';
import type { MadeCase, Target, Violation } from '../target.js';

export const SELF_TEST_BEHAVIOURS = ['ok', 'named', 'unnamed', 'type-error', 'signal', 'uncaught', 'memory', 'hang'] as const;
export type SelfTestBehaviour = (typeof SELF_TEST_BEHAVIOURS)[number];

export const selfTestTarget: Target = {
  name: 'self-test',
  description: 'the harness checking itself: one known bad behaviour per case',
  timeoutMs: 4_000,
  async prepare() {},
  async make(_rng, _caseDir, _ctx): Promise<MadeCase> {
    throw new Error('self-test cases are made by the test (index = behaviour)');
  },
  async run(spec, caseDir): Promise<Violation[]> {
    const b = spec as SelfTestBehaviour;
    const r = await expectClear(async () => {
      switch (b) {
        case 'ok': return 1;
        case 'named': throw new DiffuseError(`${caseDir}/x.json: bad`);
        case 'unnamed': throw new DiffuseError('bad');
        case 'type-error': return (null as unknown as { x: number }).x;
        case 'signal': process.kill(process.pid, 'SIGSEGV'); return new Promise(() => {});
        case 'uncaught': setTimeout(() => { throw new RangeError('late'); }, 0); return new Promise(() => {});
        case 'memory': {
          const keep: Buffer[] = [];
          for (let i = 0; i < 256; i++) {
            keep.push(Buffer.alloc(16 * 2 ** 20, 1));
            await new Promise((res) => setTimeout(res, 1));
          }
          return keep.length;
        }
        case 'hang': return new Promise(() => {});
      }
    }, [caseDir]);
    return r.violations;
  },
};
