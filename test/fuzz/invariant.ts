/**
 * The library-level invariant as one check: run an entry point on a fuzzed input; it either
 * succeeds or throws a DiffuseError whose message names the input. Anything else is a violation
 * that carries the error's class, message and first frames, for the report.
 */
import { DiffuseError } from '../../src/tensor/errors.js';
import type { Violation } from './target.js';

/** The error's class and message, and its first stack frames inside the package. */
export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return `a thrown ${typeof e}: ${String(e).slice(0, 300)}`;
  const frames = (e.stack ?? '')
    .split('\n')
    .filter((l) => l.trim().startsWith('at '))
    .slice(0, 3)
    .map((l) => l.trim().replace(/\(.*\/(dist\/|node_modules\/)/, '($1'));
  return `${e.name}: ${e.message.slice(0, 500)}${frames.length > 0 ? ` [${frames.join(' <- ')}]` : ''}`;
}

/**
 * Runs `fn`; a success or a DiffuseError naming one of `names` is fine. A DiffuseError naming
 * none is 'unnamed-error'; any other throw is 'foreign-error'.
 * @example await expectClear(() => readSafetensors(p), [p, basename(p)])
 */
export async function expectClear(fn: () => unknown, names: readonly string[]): Promise<{ violations: Violation[]; value: unknown; error: unknown }> {
  try {
    const value = await fn();
    return { violations: [], value, error: null };
  } catch (e) {
    if (e instanceof DiffuseError) {
      const named = names.some((n) => n !== '' && e.message.includes(n));
      return { violations: named ? [] : [{ kind: 'unnamed-error', detail: `${describeError(e)} (names none of: ${names.join(', ')})` }], value: undefined, error: e };
    }
    return { violations: [{ kind: 'foreign-error', detail: describeError(e) }], value: undefined, error: e };
  }
}
