/**
 * NativeKernelError: a kernel's C++ error reaches JavaScript with its message, the addon's own
 * error as `cause`, and a JavaScript stack that leads back to the code that called the kernel.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nativeCall } from '../../src/backend/native/loader.js';
import { nativeLayout } from '../../src/backend/native/layout.js';
import { DiffuseError, NativeKernelError } from '../../src/tensor/errors.js';

/** What `f` throws (fails the test when it returns). */
function caughtBy(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail('expected a throw');
}

/** A named caller, so the test can find it in the stack. */
function permuteWithAShortOutput(): void {
  nativeLayout.permute(new Float32Array(6), [2, 3], [1, 0], new Float32Array(4));
}

describe('NativeKernelError', () => {
  it("keeps the addon's error as cause and the JavaScript stack of the call", () => {
    const caught = caughtBy(permuteWithAShortOutput);
    assert.ok(caught instanceof NativeKernelError, `expected a NativeKernelError, got ${String(caught)}`);
    assert.ok(caught instanceof DiffuseError);
    assert.equal(caught.message, "permute: argument 'out' has 4 elements, expected 6");
    assert.ok(caught.cause instanceof Error, 'cause is the error the addon threw');
    assert.equal(caught.cause.message, caught.message);
    assert.notEqual(caught.cause, caught);
    const stack = caught.stack ?? '';
    assert.match(stack, /^NativeKernelError: permute: argument 'out' has 4 elements, expected 6\n/);
    assert.match(stack, /at permuteWithAShortOutput /, 'the stack leads back to the JavaScript caller');
    assert.match(stack.split('\n')[1] ?? '', /permute \(.*backend[\\/]native[\\/]layout\.[jt]s/, 'the first frame is the kernel wrapper, not nativeCall');
  });

  it('wraps anything a kernel throws; errors of ours pass through unchanged', () => {
    const thrown = new TypeError('bad argument from C++');
    const wrapped = caughtBy(() => nativeCall(() => { throw thrown; }));
    assert.ok(wrapped instanceof NativeKernelError);
    assert.equal(wrapped.cause, thrown);
    assert.equal(wrapped.message, 'bad argument from C++');
    const fromString = caughtBy(() => nativeCall(() => { throw 'a string'; }));
    assert.ok(fromString instanceof NativeKernelError);
    assert.equal(fromString.message, 'a string');
    assert.equal(fromString.cause, 'a string');
    const ours = new NativeKernelError('already ours');
    assert.equal(caughtBy(() => nativeCall(() => { throw ours; })), ours);
  });
});
