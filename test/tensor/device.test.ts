// Tensors with a device: a second, test-only device (its storage a host array in a wrapper, its
// kernels the reference kernels unwrapping it, its reads asynchronous only, like a GPU's) shows
// that ops dispatch on their inputs' device, refuse mixed devices naming the op, the inputs and
// their devices, and that values are read explicitly. The oracle is the same computation on the CPU.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, type DType, type HostArray } from '../../src/tensor/tensor.js';
import { tensor, zeros } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { DeviceError, ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { cpu } from '../../src/backend/cpu.js';
import { getDevice, registerDevice, unregisterDevice, type Device, type DeviceBuffer, type DeviceHandle } from '../../src/backend/device.js';
import { referenceBackend } from '../../src/backend/reference/index.js';
import type { Kernels } from '../../src/backend/backend.js';
import { add, concat, conv2d, matmul, mseLoss, mul, sum, sliceBatch, where } from '../../src/ops/index.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** A host array in a wrapper: a buffer no CPU kernel accepts. */
class FakeBuffer implements DeviceHandle {
  readonly deviceName = 'fake';
  constructor(readonly array: HostArray) {}
}

const unwrap = (a: unknown): unknown => (a instanceof FakeBuffer ? a.array : Array.isArray(a) ? a.map(unwrap) : a);

/** Every reference kernel, taking FakeBuffers (and arrays of them) in place of host arrays. */
const fakeKernels = new Proxy({} as Kernels<FakeBuffer>, {
  get(_, key: string) {
    const f = (referenceBackend as unknown as Record<string, (...a: unknown[]) => unknown>)[key];
    if (typeof f !== 'function') throw new Error(`fake device: no kernel '${key}'`);
    return (...args: unknown[]) => f(...args.map(unwrap));
  },
});

const fake: Device<FakeBuffer> = {
  name: 'fake',
  kernels: fakeKernels,
  alloc: (dtype: DType, size: number) => new FakeBuffer(dtype === 'float64' ? new Float64Array(size) : new Float32Array(size)),
  allocUninit: (dtype: DType, size: number) => new FakeBuffer((dtype === 'float64' ? new Float64Array(size) : new Float32Array(size)).fill(NaN)),
  fromHost: (values: ArrayLike<number>, dtype: DType) => new FakeBuffer(dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values)),
  owns: (b: DeviceBuffer): b is FakeBuffer => b instanceof FakeBuffer,
  dtypeOf: (b: FakeBuffer) => (b.array instanceof Float64Array ? 'float64' : 'float32'),
  lengthOf: (b: FakeBuffer) => b.array.length,
  readSync: () => {
    throw new DeviceError('fake device: reads are asynchronous only; use await data()');
  },
  read: (b: FakeBuffer) => Promise.resolve(b.array.slice()),
};

describe('tensors with a device', () => {
  before(() => registerDevice(fake));
  after(() => unregisterDevice('fake'));

  it('creators place tensors on a device given as an object or a name; CPU is the default', async () => {
    const a = tensor([1, 2, 3], [3], { device: fake });
    const b = zeros([2, 2], { device: 'fake' });
    assert.equal(a.device.name, 'fake');
    assert.equal(b.device, getDevice('fake'));
    assert.ok(a.storage instanceof FakeBuffer);
    assert.equal(tensor([1], [1]).device, cpu);
    assert.deepEqual(Array.from(await a.data()), [1, 2, 3]);
    assert.match(a.toString(), /device=fake/);
    assert.throws(() => zeros([1], { device: 'tpu' }), (e: Error) => e instanceof ArgumentError && /unknown device 'tpu'; registered devices: 'cpu', 'fake'/.test(e.message));
  });

  it('ops run on their inputs\' device and agree with the CPU', async () => {
    const xs = [0.5, -1, 2, 3, -0.25, 4];
    const ws = [1, 0.5, -2, 0.25, 3, -1];
    const run = (device: string) => {
      const x = tensor(xs, [1, 2, 3, 1], { device });
      const w = tensor(ws, [3, 1, 2, 1], { device }); // (O, KH, KW, I)
      const y = conv2d(x, w, null, { padding: [0, 0, 1, 0] }); // (1, 2, 3, 3)
      const m = matmul(tensor(xs, [2, 3], { device }), tensor(ws, [3, 2], { device }));
      const c = concat([sliceBatch(m, 0, 1), mul(m, m)], 0);
      const s = where(tensor([1, 0], [2, 1], { device }), m, add(m, m));
      return [y, c, s];
    };
    const onFake = run('fake');
    const onCpu = run('cpu');
    for (let i = 0; i < onFake.length; i++) {
      assert.equal(onFake[i]!.device.name, 'fake');
      assert.deepEqual(Array.from(await onFake[i]!.data()), Array.from(onCpu[i]!.toArray()));
    }
  });

  it('gradients stay on the device', async () => {
    const x = tensor([1, -2, 3], [3], { device: 'fake', requiresGrad: true });
    const target = tensor([0, 0, 1], [3], { device: 'fake' });
    const loss = add(sum(mul(x, x)), mseLoss(x, target));
    loss.backward();
    assert.equal(x.grad!.device.name, 'fake');
    // d/dx (sum x^2 + mean (x - t)^2) = 2x + 2 (x - t) / 3
    const expected = [1, -2, 3].map((v, i) => 2 * v + (2 * (v - [0, 0, 1][i]!)) / 3);
    (await x.grad!.data()).forEach((g, i) => assert.ok(Math.abs(g - expected[i]!) < 1e-6, `${g} vs ${expected[i]}`));
  });

  it('refuses inputs on different devices, naming the op, the inputs and their devices', () => {
    const a = tensor([1, 2], [2]);
    const b = tensor([3, 4], [2], { device: 'fake' });
    const mixed = (e: Error, op: string) =>
      e instanceof DeviceError && e.message.startsWith(`${op}: inputs are on different devices`) && /'a' on cpu/.test(e.message) && /'b' on fake/.test(e.message);
    assert.throws(() => add(a, b), (e: Error) => mixed(e, 'add') && /b\.to\('cpu'\)/.test(e.message));
    assert.throws(() => matmul(tensor([1], [1, 1]), tensor([1], [1, 1], { device: 'fake' })), (e: Error) => mixed(e, 'matmul'));
    assert.throws(() => concat([a, b]), (e: Error) => e instanceof DeviceError && /concat: .*'tensors\[0\]' on cpu, 'tensors\[1\]' on fake/.test(e.message));
    assert.throws(() => mseLoss(a, b), (e: Error) => e instanceof DeviceError && /mseLoss: .*'pred' on cpu, 'target' on fake/.test(e.message));
  });

  it('reads are explicit: toArray/item need a synchronous device, await data() works anywhere, hostBuffer is CPU only', async () => {
    const t = tensor([1.5], [1], { device: 'fake' });
    assert.throws(() => t.toArray(), /use await data\(\)/);
    assert.throws(() => t.item(), DeviceError);
    assert.throws(() => hostBuffer(t), (e: Error) => e instanceof DeviceError && /device 'fake'.*await t.data\(\) or t.toArray\(\)/.test(e.message));
    assert.deepEqual(Array.from(await t.data()), [1.5]);
    const c = tensor([0.1, 2], [2], { dtype: 'float64' });
    assert.ok(c.toArray() instanceof Float32Array);
    assert.deepEqual(Array.from(c.toArray('float64')), [0.1, 2]);
    assert.deepEqual(Array.from(await c.data('float64')), [0.1, 2]);
    assert.ok(c.toArray('float64') !== hostBuffer(c), 'toArray copies');
    assert.equal(tensor([7], []).item(), 7);
  });

  it('to() and toAsync() copy between devices; a tensor already there is returned as is', async () => {
    const c = tensor([1, 2, 3, 4], [2, 2]);
    assert.equal(c.to('cpu'), c);
    const f = c.to('fake');
    assert.equal(f.device.name, 'fake');
    assert.deepEqual(f.shape, [2, 2]);
    assert.throws(() => f.to(cpu), /data/);
    const back = await f.toAsync(cpu);
    assert.equal(back.device, cpu);
    assert.deepEqual(Array.from(back.toArray()), [1, 2, 3, 4]);
  });

  it('generators draw on the device the same values as on the CPU', async () => {
    const onFake = new Generator(3).normal([9], 0, 1, { device: 'fake' });
    assert.equal(onFake.device.name, 'fake');
    assert.deepEqual(Array.from(await onFake.data()), Array.from(new Generator(3).normal([9]).toArray()));
  });

  it('the Tensor constructor checks the storage against the device and the shape', () => {
    assert.throws(() => new Tensor(new FakeBuffer(new Float32Array(2)), [2]), (e: Error) => e instanceof ArgumentError && /storage must be a Float32Array or Float64Array, found FakeBuffer/.test(e.message));
    assert.throws(() => new Tensor(new Float32Array(2), [2], false, fake), /not a buffer of device 'fake'/);
    assert.throws(() => new Tensor(new Float32Array(3), [2, 2]), (e: Error) => e instanceof ShapeError && /storage has 3 elements but shape \[2, 2\] needs 4/.test(e.message));
  });
});
