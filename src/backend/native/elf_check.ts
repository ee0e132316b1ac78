/**
 * Checks a native addon file before it is handed to dlopen. The dynamic loader maps an ELF
 * shared object's segments straight from the file: a truncated file (an interrupted build or
 * copy) maps pages past its end, and the first touch of them kills the process with SIGBUS,
 * with no message and no way to catch it. So the loader reads the ELF header (System V ABI,
 * "ELF header", "Program header", "Section header") and refuses a file that is not an ELF shared
 * object, is built for another CPU, word size or byte order, or is shorter than its own program
 * and section headers say it is.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';

/** e_machine of each Node.js `process.arch` (System V ABI, ELF "Machine" values). */
const ELF_MACHINE: Readonly<Record<string, { machine: number; name: string }>> = {
  x64: { machine: 62, name: 'x86-64' },
  arm64: { machine: 183, name: 'AArch64' },
  ia32: { machine: 3, name: 'i386' },
  arm: { machine: 40, name: 'ARM' },
  ppc64: { machine: 21, name: 'PowerPC64' },
  ppc: { machine: 20, name: 'PowerPC' },
  s390x: { machine: 22, name: 'S/390' },
  riscv64: { machine: 243, name: 'RISC-V' },
  loong64: { machine: 258, name: 'LoongArch' },
  mips: { machine: 8, name: 'MIPS' },
  mipsel: { machine: 8, name: 'MIPS' },
};

/** Node architectures with 64-bit pointers (ELFCLASS64); the rest are ELFCLASS32. */
const ARCH_64 = new Set(['x64', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64']);

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46]; // "\x7fELF"
const ET_DYN = 3; // a shared object, what dlopen takes
const PT_LOAD = 1; // a segment mapped from the file
const SHT_NOBITS = 8; // a section with no bytes in the file (.bss)
/** Table entries larger than this many times the standard size are a corrupt header (and would make us read megabytes). */
const MAX_ENTRY_FACTOR = 4;

const TRUNCATED_HINT = 'the file is truncated (an interrupted build or copy?)';

/** The fields of an ELF header that locate its tables, with the reader for its word size and byte order. */
interface ElfLayout {
  is64: boolean;
  little: boolean;
  type: number;
  machine: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shentsize: number;
  shnum: number;
}

/** Reads up to `length` bytes at `position` (fewer at the end of the file). */
function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const got = readSync(fd, buf, 0, length, position);
  return buf.subarray(0, got);
}

/** A 64-bit field as a number (file offsets and sizes above 2^53 are not real files). */
function u64(b: Buffer, off: number, little: boolean): number {
  const v = little ? b.readBigUInt64LE(off) : b.readBigUInt64BE(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}
function u32(b: Buffer, off: number, little: boolean): number {
  return little ? b.readUInt32LE(off) : b.readUInt32BE(off);
}
function u16(b: Buffer, off: number, little: boolean): number {
  return little ? b.readUInt16LE(off) : b.readUInt16BE(off);
}

/** The header's identification and table locations, or a sentence saying why it is not ELF. */
function parseHeader(h: Buffer): ElfLayout | string {
  const magicSoFar = ELF_MAGIC.every((m, i) => i >= h.length || h[i] === m);
  if (magicSoFar && h.length < 16) return `it ends inside its ELF header (${h.length} bytes, the header alone is 64): ${TRUNCATED_HINT}`;
  if (!magicSoFar) {
    const head = [...h.subarray(0, 4)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
    return `it is not an ELF shared object (it starts with bytes ${head === '' ? '(none: the file is empty)' : head}, not 7f 45 4c 46 "\\x7fELF")`;
  }
  const cls = h[4];
  const data = h[5];
  if (cls !== 1 && cls !== 2) return `its ELF class byte is ${cls ?? 'missing'} (expected 1 for 32-bit or 2 for 64-bit): the header is corrupt`;
  if (data !== 1 && data !== 2) return `its ELF byte-order byte is ${data ?? 'missing'} (expected 1 little-endian or 2 big-endian): the header is corrupt`;
  const is64 = cls === 2;
  const little = data === 1;
  const size = is64 ? 64 : 52;
  if (h.length < size) return `it ends inside its ELF header (${h.length} bytes, the header alone is ${size}): ${TRUNCATED_HINT}`;
  return is64
    ? {
        is64, little, type: u16(h, 16, little), machine: u16(h, 18, little),
        phoff: u64(h, 32, little), shoff: u64(h, 40, little),
        phentsize: u16(h, 54, little), phnum: u16(h, 56, little), shentsize: u16(h, 58, little), shnum: u16(h, 60, little),
      }
    : {
        is64, little, type: u16(h, 16, little), machine: u16(h, 18, little),
        phoff: u32(h, 28, little), shoff: u32(h, 32, little),
        phentsize: u16(h, 42, little), phnum: u16(h, 44, little), shentsize: u16(h, 46, little), shnum: u16(h, 48, little),
      };
}

/**
 * What is wrong with `file` as a native addon for this process, or null if its ELF header and
 * sizes check out (then dlopen may still refuse it, with an error instead of a crash). On macOS
 * and Windows (Mach-O and PE files) only an empty file is refused.
 * @example sharedObjectProblem('build/Release/diffuse_native.node') // null
 * @example sharedObjectProblem('/tmp/half.node') // 'its section headers end at byte 588912 but the file has 50000 bytes: the file is truncated ...'
 */
export function sharedObjectProblem(file: string, arch: string = process.arch, platform: string = process.platform): string | null {
  const fd = openSync(file, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize === 0) return 'the file is empty (0 bytes)';
    if (platform === 'darwin' || platform === 'win32') return null;
    const layout = parseHeader(readAt(fd, 0, 64));
    if (typeof layout === 'string') return layout;
    const { is64, little } = layout;
    const wantLittle = endianness() === 'LE';
    if (little !== wantLittle) return `it is ${little ? 'little' : 'big'}-endian, this process is ${wantLittle ? 'little' : 'big'}-endian: it was built for another CPU`;
    const want = ELF_MACHINE[arch];
    if (want !== undefined && layout.machine !== want.machine) {
      const found = Object.values(ELF_MACHINE).find((m) => m.machine === layout.machine)?.name ?? `ELF machine ${layout.machine}`;
      return `it was built for ${found}, but this process runs on ${want.name} (${arch})`;
    }
    if (want !== undefined && is64 !== ARCH_64.has(arch)) return `it is a ${is64 ? '64' : '32'}-bit ELF file, but this process (${arch}) is ${is64 ? '32' : '64'}-bit`;
    if (layout.type !== ET_DYN) return `it is an ELF file of type ${layout.type}, not a shared object (type ${ET_DYN})`;

    // The tables the header points at must lie inside the file.
    const phEnd = layout.phoff + layout.phnum * layout.phentsize;
    if (phEnd > fileSize) return `its program headers end at byte ${phEnd} but the file has ${fileSize} bytes: ${TRUNCATED_HINT}`;
    const shEnd = layout.shoff + layout.shnum * layout.shentsize;
    if (shEnd > fileSize) return `its section headers end at byte ${shEnd} but the file has ${fileSize} bytes: ${TRUNCATED_HINT}`;
    // Every segment the loader maps from the file, and every section with bytes, must too.
    const phMin = is64 ? 56 : 32;
    if (layout.phnum > 0 && (layout.phentsize < phMin || layout.phentsize > MAX_ENTRY_FACTOR * phMin)) return `its program header entries are ${layout.phentsize} bytes, where an ELF${is64 ? 64 : 32} entry is ${phMin}: the header is corrupt`;
    const ph = readAt(fd, layout.phoff, layout.phnum * layout.phentsize);
    for (let i = 0; i < layout.phnum; i++) {
      const o = i * layout.phentsize;
      if (u32(ph, o, little) !== PT_LOAD) continue;
      const offset = is64 ? u64(ph, o + 8, little) : u32(ph, o + 4, little);
      const filesz = is64 ? u64(ph, o + 32, little) : u32(ph, o + 16, little);
      if (offset + filesz > fileSize) return `its loadable segment ${i} ends at byte ${offset + filesz} but the file has ${fileSize} bytes: ${TRUNCATED_HINT}`;
    }
    const shMin = is64 ? 64 : 40;
    if (layout.shnum > 0 && (layout.shentsize < shMin || layout.shentsize > MAX_ENTRY_FACTOR * shMin)) return `its section header entries are ${layout.shentsize} bytes, where an ELF${is64 ? 64 : 32} entry is ${shMin}: the header is corrupt`;
    const sh = readAt(fd, layout.shoff, layout.shnum * layout.shentsize);
    for (let i = 0; i < layout.shnum; i++) {
      const o = i * layout.shentsize;
      if (u32(sh, o + 4, little) === SHT_NOBITS) continue;
      const offset = is64 ? u64(sh, o + 24, little) : u32(sh, o + 16, little);
      const size = is64 ? u64(sh, o + 32, little) : u32(sh, o + 20, little);
      if (offset + size > fileSize) return `its section ${i} ends at byte ${offset + size} but the file has ${fileSize} bytes: ${TRUNCATED_HINT}`;
    }
    return null;
  } finally {
    closeSync(fd);
  }
}
