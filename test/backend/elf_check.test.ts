// The addon file check that runs before dlopen: the real addon passes, every truncation of it and
// every header that does not fit this process is named (issue 14, failure 3: a truncated addon
// killed the process with SIGBUS).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedObjectProblem } from '../../src/backend/native/elf_check.js';
import { packageRoot } from '../../src/io/package_root.js';

const addonFile = join(packageRoot(), 'build', 'Release', 'diffuse_native.node');
const dir = mkdtempSync(join(tmpdir(), 'diffuse-elf-'));

/** Writes `bytes` to a temporary file and checks it. */
function check(bytes: Uint8Array, arch?: string, platform?: string): string | null {
  const file = join(dir, 'addon.node');
  writeFileSync(file, bytes);
  return sharedObjectProblem(file, arch, platform);
}

/** A copy of the real addon with `edit` applied (it reads and writes little-endian ELF64 fields). */
function patched(edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(readFileSync(addonFile));
  edit(b);
  return b;
}

/** The first program header of type PT_LOAD: its offset in the file. */
function firstLoadHeader(b: Buffer): number {
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  for (let i = 0; i < b.readUInt16LE(56); i++) if (b.readUInt32LE(phoff + i * phentsize) === 1) return phoff + i * phentsize;
  throw new Error(`${addonFile} has no PT_LOAD segment`);
}

describe('sharedObjectProblem (the addon file check before dlopen)', () => {
  const full = readFileSync(addonFile);
  const otherArch = process.arch === 'arm64' ? 'x64' : 'arm64';

  it('the real addon passes', () => {
    assert.equal(full.readUInt8(4), 2, 'these tests edit ELF64 fields: the addon must be a 64-bit build');
    assert.equal(sharedObjectProblem(addonFile), null);
  });

  it('every truncation of the real addon is refused as truncated (the SIGBUS of failure 3)', () => {
    const lengths = [1, 4, 15, 16, 63, 64, 65, 50_000, full.length - 1];
    for (let n = 997; n < full.length; n += 7919) lengths.push(n);
    for (const n of lengths) {
      const problem = check(full.subarray(0, n));
      assert.ok(problem !== null, `a ${n}-byte prefix passed`);
      assert.match(problem, /truncated/, `${n} bytes: ${problem}`);
    }
    assert.match(check(full.subarray(0, 50_000))!, new RegExp(`^its section headers end at byte ${full.length} but the file has 50000 bytes: the file is truncated`));
    assert.equal(check(new Uint8Array(0)), 'the file is empty (0 bytes)');
  });

  it('a header that does not fit this process: another CPU, word size, byte order, file type', () => {
    assert.match(sharedObjectProblem(addonFile, otherArch)!, new RegExp(`^it was built for \\S+, but this process runs on \\S+ \\(${otherArch}\\)$`));
    // e_machine of another CPU in the file itself.
    const machine = otherArch === 'arm64' ? 183 : 62;
    assert.match(check(patched((b) => b.writeUInt16LE(machine, 18)))!, /^it was built for (AArch64|x86-64), but this process runs on/);
    // EI_CLASS 32-bit: the same machine, the wrong word size.
    assert.match(check(patched((b) => b.writeUInt8(1, 4)))!, new RegExp(`^it is a 32-bit ELF file, but this process \\(${process.arch}\\) is 64-bit$`));
    assert.match(check(patched((b) => b.writeUInt8(2, 5)))!, /^it is big-endian, this process is little-endian/);
    assert.match(check(patched((b) => b.writeUInt8(7, 4)))!, /ELF class byte is 7 .*corrupt/);
    assert.match(check(patched((b) => b.writeUInt16LE(2, 16)))!, /^it is an ELF file of type 2, not a shared object \(type 3\)$/);
  });

  it('a segment or section reaching past the end of the file, and absurd table entries', () => {
    const load = firstLoadHeader(full);
    const segment = check(patched((b) => b.writeBigUInt64LE(BigInt(full.length + 1), load + 32)));
    assert.match(segment!, new RegExp(`^its loadable segment \\d+ ends at byte ${full.length + 1 + Number(full.readBigUInt64LE(load + 8))} but the file has ${full.length} bytes: the file is truncated`));
    // A section with bytes in the file (not .bss) moved to the end of the file.
    const shoff = Number(full.readBigUInt64LE(40));
    const withBytes = check(patched((b) => {
      for (let i = 1; i < b.readUInt16LE(60); i++) {
        const o = shoff + i * 64;
        if (b.readUInt32LE(o + 4) !== 8 && b.readBigUInt64LE(o + 32) > 0n) {
          b.writeBigUInt64LE(BigInt(full.length), o + 24);
          return;
        }
      }
    }));
    assert.match(withBytes!, /^its section \d+ ends at byte \d+ but the file has \d+ bytes: the file is truncated/);
    assert.match(check(patched((b) => b.writeUInt16LE(60000, 54)))!, /program headers end at byte|program header entries are 60000 bytes/);
    assert.match(check(patched((b) => b.writeUInt16LE(8, 58)))!, /^its section header entries are 8 bytes, where an ELF64 entry is 64: the header is corrupt$/);
  });

  it('a file that is not ELF at all; on macOS and Windows only emptiness is checked', () => {
    assert.equal(check(Buffer.from('not a shared object')), 'it is not an ELF shared object (it starts with bytes 6e 6f 74 20, not 7f 45 4c 46 "\\x7fELF")');
    assert.equal(check(Buffer.from('MZ not ELF'), 'x64', 'win32'), null);
    assert.equal(check(new Uint8Array(0), 'arm64', 'darwin'), 'the file is empty (0 bytes)');
  });
});
