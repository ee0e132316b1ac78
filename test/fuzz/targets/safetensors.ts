/**
 * Target 'safetensors': readSafetensors on mutated files. Seeds: the weights of the tiny test
 * U-Net, and a hand-made file with every dtype and an empty tensor. Mutations: bytes anywhere
 * (the 8-byte header length included), the header JSON mutated field by field and re-framed
 * with a correct length, and the data section cut or grown.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../../src/io/safetensors.js';
import { UNet2DModel, configFromJSON } from '../../../src/nn/unet_2d.js';
import { WEIGHTS_NAME } from '../../../src/io/checkpoint.js';
import { TINY_UNET } from '../../train/fixtures.js';
import { mutateBytes } from '../mutators/bytes.js';
import { mutateJson } from '../mutators/json.js';
import { expectClear } from '../invariant.js';
import type { Rng } from '../rng.js';
import type { MadeCase, RunContext, Target, Violation } from '../target.js';

/** A safetensors file from a header object and the data bytes. */
export function frameSafetensors(headerText: string, data: Buffer): Buffer {
  const header = Buffer.from(headerText, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, data]);
}

/** Splits a file into header text and data (null when the frame itself is broken). */
function unframe(b: Buffer): { header: string; data: Buffer } | null {
  if (b.length < 8) return null;
  const n = Number(b.readBigUInt64LE(0));
  if (n > b.length - 8) return null;
  return { header: b.subarray(8, 8 + n).toString('utf8'), data: b.subarray(8 + n) };
}

/** Every dtype, an empty tensor, a scalar and metadata. */
function allDtypes(): Buffer {
  const specs: [string, string, number[], number][] = [
    ['f64', 'F64', [2], 8], ['f32', 'F32', [2, 2], 4], ['f16', 'F16', [3], 2], ['bf16', 'BF16', [3], 2],
    ['i64', 'I64', [2], 8], ['u64', 'U64', [1], 8], ['i32', 'I32', [2], 4], ['u32', 'U32', [1], 4], ['i16', 'I16', [2], 2],
    ['u16', 'U16', [1], 2], ['i8', 'I8', [4], 1], ['u8', 'U8', [4], 1], ['bool', 'BOOL', [2], 1], ['empty', 'F32', [0, 3], 4], ['scalar', 'F32', [], 4],
  ];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', note: 'fuzz seed' } };
  const parts: Buffer[] = [];
  let off = 0;
  specs.forEach(([name, dtype, shape, size], k) => {
    const n = shape.reduce((a, b) => a * b, 1) * size;
    header[name] = { dtype, shape, data_offsets: [off, off + n] };
    parts.push(Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + k) & 0x3f)));
    off += n;
  });
  return frameSafetensors(JSON.stringify(header), Buffer.concat(parts));
}

const seeds = (ctx: RunContext): string[] => [join(ctx.corpusDir, 'unet.safetensors'), join(ctx.corpusDir, 'dtypes.safetensors')];

/** A mutated safetensors file (shared with the targets that load weights). */
export function mutateSafetensors(rng: Rng, seed: Buffer, other: Buffer): { bytes: Buffer; note: string } {
  const parts = unframe(seed);
  const mode = rng.int(10);
  if (mode < 4 || parts === null) return { bytes: mutateBytes(rng, seed, other, 4), note: 'bytes mutated' };
  if (mode < 8) {
    const m = mutateJson(rng, parts.header);
    return { bytes: frameSafetensors(m.text, parts.data), note: `header mutated (${m.keys.slice(0, 4).join(', ') || 'root'})` };
  }
  if (mode === 8) return { bytes: frameSafetensors(parts.header, parts.data.subarray(0, rng.int(parts.data.length))), note: 'data section cut' };
  return { bytes: frameSafetensors(parts.header, Buffer.concat([parts.data, rng.bytes(rng.range(1, 64))])), note: 'data section grown' };
}

export const safetensorsTarget: Target = {
  name: 'safetensors',
  description: 'readSafetensors on mutated files (bytes, header JSON, data section)',
  timeoutMs: 15_000,
  async prepare(ctx) {
    mkdirSync(ctx.corpusDir, { recursive: true });
    const dir = join(ctx.corpusDir, 'unet');
    new UNet2DModel(configFromJSON({ ...TINY_UNET, dropout: 0 })).savePretrained(dir);
    writeFileSync(seeds(ctx)[0]!, readFileSync(join(dir, WEIGHTS_NAME)));
    writeFileSync(seeds(ctx)[1]!, allDtypes());
  },
  async make(rng, caseDir, ctx): Promise<MadeCase> {
    const [a, b] = seeds(ctx).map((p) => readFileSync(p));
    const [seed, other] = rng.chance(0.5) ? [a!, b!] : [b!, a!];
    const { bytes, note } = mutateSafetensors(rng, seed, other);
    writeFileSync(join(caseDir, 'model.safetensors'), bytes);
    return { spec: { file: 'model.safetensors' }, note };
  },
  async run(spec, caseDir): Promise<Violation[]> {
    const path = join(caseDir, (spec as { file: string }).file);
    return (await expectClear(() => readSafetensors(path), [path])).violations;
  },
};
