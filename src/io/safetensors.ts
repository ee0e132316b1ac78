/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of
 * JSON mapping tensor names to { dtype, shape, data_offsets: [begin, end] } (offsets relative
 * to the data section), an optional "__metadata__" map of strings, then the raw little-endian
 * data. The reader is bounds-checked: a malformed file gives a SafetensorsError that names
 * the file, the tensor and the problem, never a crash or a huge allocation.
 */
import { readFileSync } from 'node:fs';
import { DiffuseError } from '../tensor/errors.js';
import { writeFileAtomic } from './atomic.js';

export class SafetensorsError extends DiffuseError {}

/** Bytes per element of each dtype the format defines. */
const ITEM_SIZE = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
} as const;
export type SafetensorsDType = keyof typeof ITEM_SIZE;

/** Headers larger than this are rejected before allocating (real ones are a few hundred KB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsTensor {
  /** The dtype stored in the file; `data` is always float32. */
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

function isDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(ITEM_SIZE, s);
}

/** float16 bits -> number. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function decode(dtype: SafetensorsDType, bytes: Uint8Array, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      break;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      break;
    case 'U64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigUint64(i * 8, true));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case 'U32':
      for (let i = 0; i < n; i++) out[i] = view.getUint32(i * 4, true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
      break;
    case 'U16':
      for (let i = 0; i < n; i++) out[i] = view.getUint16(i * 2, true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = bytes[i]!;
      break;
  }
  return out;
}

/** Parses safetensors bytes; `source` names the file in errors. */
export function parseSafetensors(buf: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${source}: not a valid safetensors file: ${msg}`);
  };
  if (buf.length < 8) fail(`${buf.length} bytes is too short for the 8-byte header length`);
  const headerLen = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  if (headerLen > BigInt(buf.length - 8)) fail(`header length ${headerLen} exceeds the ${buf.length - 8} bytes after it (truncated file?)`);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    fail(`the header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;

  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} must be a string, found ${typeof v}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (e === null || typeof e !== 'object') fail(`tensor '${name}': entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = e as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDType(dtype)) fail(`tensor '${name}': unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(ITEM_SIZE).join(', ')})`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      fail(`tensor '${name}': shape must be an array of non-negative integers, found ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0)) {
      fail(`tensor '${name}': data_offsets must be two non-negative integers, found ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const bytes = count * ITEM_SIZE[dtype as SafetensorsDType];
    if (end < begin || end > dataLen) fail(`tensor '${name}': data_offsets [${begin}, ${end}] fall outside the ${dataLen}-byte data section`);
    if (end - begin !== bytes) fail(`tensor '${name}': shape ${JSON.stringify(shape)} of ${dtype} needs ${bytes} bytes, data_offsets give ${end - begin}`);
    spans.push({ name, begin, end });
    tensors.set(name, { dtype: dtype as SafetensorsDType, shape: shape as number[], data: new Float32Array(0) });
  }
  // The data section must be covered exactly once: no overlaps, no holes.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const s of spans) {
    if (s.begin < pos) fail(`tensor '${s.name}' (bytes ${s.begin}-${s.end}) overlaps the tensor before it (which ends at ${pos})`);
    if (s.begin > pos) fail(`bytes ${pos}-${s.begin} of the data section belong to no tensor (before '${s.name}')`);
    pos = s.end;
  }
  if (pos !== dataLen) fail(`the data section has ${dataLen} bytes but the tensors cover ${pos}`);
  for (const s of spans) {
    const t = tensors.get(s.name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    t.data = decode(t.dtype, buf.subarray(dataStart + s.begin, dataStart + s.end), count);
  }
  return { tensors, metadata };
}

/** Reads a safetensors file (all tensors as float32). */
export function readSafetensors(path: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(`${path}: cannot read: ${(e as Error).message}`);
  }
  return parseSafetensors(buf, path);
}

/** Serialises float32 tensors (sorted by name, header padded to 8 bytes as the format advises). */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }> | Record<string, { shape: readonly number[]; data: Float32Array }>,
  metadata: Record<string, string> = {},
): Uint8Array[] {
  type Entry = [string, { shape: readonly number[]; data: Float32Array }];
  const entries: Entry[] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new SafetensorsError(`serializeSafetensors: tensor '${name}' has ${t.data.length} values for shape ${JSON.stringify(t.shape)} (${count})`);
    }
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const out: Uint8Array[] = [prefix, headerBytes];
  // Little-endian float32 bytes; typed arrays are little-endian on every platform Node supports here.
  for (const [, t] of entries) out.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return out;
}

/** Writes a safetensors file atomically. */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }> | Record<string, { shape: readonly number[]; data: Float32Array }>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
