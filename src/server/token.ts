/**
 * The optional access token of `diffuse serve --token` (or DIFFUSE_TOKEN): when set, every
 * request must carry it. Scripts send `Authorization: Bearer TOKEN`; a browser opens
 * `http://HOST:PORT/?token=TOKEN` once, and the server answers with an HttpOnly, SameSite=Strict
 * cookie and a redirect to the same page without the token in its address, so the page's own
 * requests (fetch and EventSource, which cannot set headers) carry it from then on. Tokens are
 * compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ArgumentError } from '../tensor/errors.js';

/** The cookie that carries the token for the web page. */
export const TOKEN_COOKIE = 'diffuse_token';
/** The query parameter that hands the token to the browser once. */
export const TOKEN_QUERY = 'token';
/** The environment variable read when --token is not given (keeps the token out of `ps`). */
export const TOKEN_ENV = 'DIFFUSE_TOKEN';
/** Shortest token accepted: 16 characters (e.g. `openssl rand -hex 16` gives 32). */
export const MIN_TOKEN_LENGTH = 16;
/** A token's characters: safe in a header, a cookie and a URL without escaping. */
const TOKEN_RE = /^[A-Za-z0-9._~-]+$/;

/**
 * Checks a token given by the user; returns it.
 * @example checkToken('0123456789abcdef0123') // '0123456789abcdef0123'
 */
export function checkToken(token: string, source = '--token'): string {
  if (token.length < MIN_TOKEN_LENGTH || !TOKEN_RE.test(token)) {
    throw new ArgumentError(
      `${source} must be at least ${MIN_TOKEN_LENGTH} characters of letters, digits, '.', '_', '~' and '-', found ${token.length} characters${TOKEN_RE.test(token) || token === '' ? '' : ' with others among them'}; make one with: openssl rand -hex 16`,
    );
  }
  return token;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Whether `given` is the token (constant time in the token's content). */
export function tokenMatches(token: string, given: string | undefined): boolean {
  return given !== undefined && timingSafeEqual(digest(token), digest(given));
}

/** The token a request carries: its Authorization header, its cookie, or its ?token= parameter. */
export function tokenOf(headers: { authorization?: string | undefined; cookie?: string | undefined }, url: string): { token: string | undefined; fromQuery: boolean } {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return { token: m?.[1], fromQuery: false };
  }
  for (const part of (headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) return { token: part.slice(eq + 1).trim(), fromQuery: false };
  }
  const q = url.indexOf('?');
  if (q >= 0) {
    const v = new URLSearchParams(url.slice(q + 1)).get(TOKEN_QUERY);
    if (v !== null) return { token: v, fromQuery: true };
  }
  return { token: undefined, fromQuery: false };
}

/** The Set-Cookie value that keeps the token in the browser for this server's pages. */
export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

/** `url` without its ?token= parameter (where the browser is sent after the cookie is set). */
export function withoutToken(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  params.delete(TOKEN_QUERY);
  const rest = params.toString();
  return url.slice(0, q) + (rest === '' ? '' : `?${rest}`);
}
