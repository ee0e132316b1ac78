/**
 * What an uploaded file is, from its first bytes (its signature), never from a name or a data:
 * URL's media type: the server takes PNG and JPEG only, as documented. Other image formats that
 * the decoder would also read (GIF, WebP, TIFF, SVG, AVIF/HEIF, BMP, ...) are recognised so the
 * answer can say what was sent (415 Unsupported Media Type); bytes that are no known image are
 * left to the decoder's probe, which answers 400.
 */

/** The formats uploads may have. */
export const ACCEPTED_UPLOAD_FORMATS = ['PNG', 'JPEG'] as const;
export type UploadFormat = (typeof ACCEPTED_UPLOAD_FORMATS)[number];

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

const startsWith = (b: Buffer, sig: readonly number[], at = 0): boolean => b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);
const ascii = (b: Buffer, from: number, to: number): string => b.subarray(from, to).toString('latin1');

/**
 * The format of `bytes`: 'PNG' or 'JPEG' (accepted), the name of another image format (refused
 * with 415), or null (not an image format we know: the decoder decides).
 * @example uploadFormat(Buffer.from('GIF89a...')) // 'GIF'
 */
export function uploadFormat(bytes: Buffer): UploadFormat | string | null {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'PNG';
  if (startsWith(bytes, JPEG_SIGNATURE)) return 'JPEG';
  const head = ascii(bytes, 0, 12);
  if (head.startsWith('GIF87a') || head.startsWith('GIF89a')) return 'GIF';
  if (head.startsWith('RIFF') && ascii(bytes, 8, 12) === 'WEBP') return 'WebP';
  if (head.startsWith('II*\0') || head.startsWith('MM\0*') || head.startsWith('II+\0') || head.startsWith('MM\0+')) return 'TIFF';
  if (head.startsWith('BM')) return 'BMP';
  if (ascii(bytes, 4, 8) === 'ftyp') {
    const brand = ascii(bytes, 8, 12);
    return brand.startsWith('avi') ? 'AVIF' : 'HEIF';
  }
  if (startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) return 'JPEG 2000';
  if (head.startsWith('\x76\x2f\x31\x01')) return 'OpenEXR';
  if (head.startsWith('%PDF')) return 'PDF';
  // SVG is text: after a BOM, white space, an XML declaration, comments or a doctype, an <svg tag.
  const text = bytes.subarray(0, 4096).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('<')) return /<svg[\s>]/i.test(text) ? 'SVG' : 'XML/HTML';
  return null;
}
