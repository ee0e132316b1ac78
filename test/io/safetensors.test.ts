import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors, SafetensorsError } from '../../src/io/safetensors.js';

import { vectorPath } from '../helpers/vectors.js';

const realFile = (): string => vectorPath('unet_small_cond/diffusion_pytorch_model.safetensors');

/** Builds a file from a header object and a data section. */
function build(header: unknown, data: Uint8Array, rawHeader?: string): Uint8Array {
  const json = Buffer.from(rawHeader ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}
const f32Bytes = (...v: number[]): Uint8Array => new Uint8Array(new Float32Array(v).buffer);

describe('safetensors', () => {
  it('reads the diffusers-saved reference U-Net: 1,624,449 parameters, PyTorch names and shapes', () => {
    const f = readSafetensors(realFile());
    let total = 0;
    for (const t of f.tensors.values()) total += t.data.length;
    assert.equal(total, 1624449);
    assert.deepEqual(f.tensors.get('conv_in.weight')?.shape, [32, 1, 3, 3]);
    assert.equal(f.metadata['format'], 'pt');
  });

  it('round-trips through write and read (atomic write leaves no temporary file)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-st-'));
    const path = join(dir, 'm.safetensors');
    const tensors = { 'b.weight': { shape: [2, 3], data: new Float32Array([1, -2, 3.5, NaN, Infinity, -0]) }, a: { shape: [], data: new Float32Array([7]) } };
    writeSafetensors(path, tensors, { format: 'pt' });
    const back = readSafetensors(path);
    assert.deepEqual(back.metadata, { format: 'pt' });
    assert.deepEqual(back.tensors.get('b.weight')?.shape, [2, 3]);
    assert.deepEqual(Array.from(back.tensors.get('b.weight')!.data), [1, -2, 3.5, NaN, Infinity, -0]);
    assert.equal(back.tensors.get('a')?.data[0], 7);
    assert.deepEqual(readdirSync(dir), ['m.safetensors']);
    // The header is padded to a multiple of 8 bytes, so the data is aligned.
    const bytes = readFileSync(path);
    assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0);
  });

  it('decodes F16, BF16, F64 and integer dtypes to float32', () => {
    const data = Buffer.concat([
      Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x7c00]).buffer), // F16: 1, -2, inf
      Buffer.from(new Uint16Array([0x3f80, 0x4040]).buffer), // BF16: 1, 3
      Buffer.from(new Float64Array([0.25]).buffer),
      Buffer.from(new Int32Array([-5]).buffer),
    ]);
    const f = parseSafetensors(build({
      h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
      d: { dtype: 'F64', shape: [1], data_offsets: [10, 18] },
      i: { dtype: 'I32', shape: [1], data_offsets: [18, 22] },
    }, data));
    assert.deepEqual(Array.from(f.tensors.get('h')!.data), [1, -2, Infinity]);
    assert.deepEqual(Array.from(f.tensors.get('b')!.data), [1, 3]);
    assert.equal(f.tensors.get('d')!.data[0], 0.25);
    assert.equal(f.tensors.get('i')!.data[0], -5);
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ['a file shorter than 8 bytes', new Uint8Array(5), /5 bytes is too short/],
    ['a header length beyond the file', (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1n << 40n); return b; })(), /header length 1099511627776 exceeds the 8 bytes after it/],
    ['a non-JSON header', build(null, new Uint8Array(0), '{"a": nope}'), /header is not JSON/],
    ['a JSON header that is not an object', build(null, new Uint8Array(0), '[1,2]'), /not a JSON object/],
    ['an unknown dtype', build({ w: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor 'w': unknown dtype "F8"/],
    ['offsets outside the data', build({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32Bytes(1)), /tensor 'w': data_offsets \[0, 8\] fall outside the 4-byte data section/],
    ['a size that does not match the shape', build({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, f32Bytes(1)), /needs 8 bytes, data_offsets give 4/],
    ['overlapping tensors', build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32Bytes(1, 2, 3)), /overlaps/],
    ['a hole in the data', build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32Bytes(1, 2)), /bytes 0-4 of the data section belong to no tensor/],
    ['negative offsets', build({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, f32Bytes(1)), /data_offsets must be two non-negative integers/],
    ['a bad shape', build({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, f32Bytes(1)), /shape must be an array of non-negative integers/],
  ];
  for (const [what, bytes, re] of bad) {
    it(`rejects ${what} with a clear error naming the file`, () => {
      assert.throws(() => parseSafetensors(bytes, 'bad.safetensors'), (e: Error) => e instanceof SafetensorsError && /^bad\.safetensors: not a valid safetensors file: /.test(e.message) && re.test(e.message));
    });
  }
  it('rejects a truncated copy of a real file', () => {
    const real = readFileSync(realFile());
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-st-'));
    const p = join(dir, 't.safetensors');
    writeFileSync(p, real.subarray(0, real.length - 100));
    assert.throws(() => readSafetensors(p), /t\.safetensors: not a valid safetensors file: .*(outside|cover)/);
  });
  it('serializes consistently: values must fill the shape', () => {
    assert.throws(() => serializeSafetensors({ w: { shape: [3], data: new Float32Array(2) } }), /tensor 'w' has 2 values for shape \[3\]/);
  });
  it('a missing file gives a clear error', () => {
    assert.throws(() => readSafetensors('/nonexistent/x.safetensors'), /\/nonexistent\/x\.safetensors: cannot read/);
  });
});
