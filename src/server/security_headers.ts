/**
 * The headers every response of `diffuse serve` carries, errors and event streams included. The
 * Content-Security-Policy is the narrowest the bundled web page (src/web) works under: its one
 * script (app.js) and style sheet (style.css) from the server itself, images from the server and
 * from data: URLs (previews, results and uploads travel as data: URLs; blob: for completeness),
 * fetch and EventSource to the server only, no plugins, no framing, no <base>, forms to itself.
 */

/** The web page's Content-Security-Policy. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Header name -> value, set on every response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

/** Sets every security header on a raw response (before fastify's hooks run, or from them). */
export function setSecurityHeaders(res: { setHeader(name: string, value: string): unknown }): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
}
