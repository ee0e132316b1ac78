/**
 * The Host and Origin allow-list against DNS rebinding and cross-site requests. A web page on
 * evil.example can make the browser send requests to 127.0.0.1:8080 (its DNS name rebound to
 * loopback), but the browser still sends `Host: evil.example`: a server that answers only the
 * names it is known by cannot be reached that way. A page on another origin can also make the
 * browser POST to the server (a form or fetch without reading the answer): requests that change
 * state must come from the server's own origin, or carry no Origin at all (curl, scripts).
 *
 * By default the names are the loopback ones (localhost, 127.0.0.1, [::1]), any port; a server
 * listening on another address adds that address (all of this machine's addresses and its host
 * name for 0.0.0.0 or ::), and --allowed-hosts adds more ('*' turns the check off).
 */
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { ArgumentError } from '../tensor/errors.js';

/** The names a loopback server answers to, any port. */
export const LOOPBACK_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** Which Host names the server answers. */
export interface HostPolicy {
  /** '*' was given: every Host is accepted (the token, if any, is the only gate). */
  any: boolean;
  /** Lower-case names without port; IPv6 addresses in brackets. */
  names: ReadonlySet<string>;
}

/** Whether `host` (an address to listen on) is loopback only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Whether `host` (an address to listen on) means every interface. */
export function isWildcardHost(host: string): boolean {
  const h = host.trim().replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0';
}

/** A name as the policy keeps it: lower case, no trailing dot, IPv6 in brackets. */
function normalName(name: string): string {
  const h = name.trim().toLowerCase().replace(/\.$/, '');
  const bare = h.replace(/^\[|\]$/g, '');
  return isIP(bare) === 6 ? `[${bare}]` : h;
}

/** A name for --allowed-hosts: a host name or IP address, without scheme, port or path. */
const HOST_NAME_RE = /^(\*|\[[0-9a-f:.]+\]|[0-9a-f:]*:[0-9a-f:.]+|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?)$/i;

/**
 * The policy of a server listening on `listenHost`, with `extra` names (--allowed-hosts).
 * @example hostPolicy('127.0.0.1', ['diffuse.lan']).names // localhost, 127.0.0.1, [::1], diffuse.lan
 */
export function hostPolicy(listenHost: string, extra: readonly string[] = []): HostPolicy {
  const names = new Set(LOOPBACK_HOSTS);
  let any = false;
  for (const raw of extra) {
    const name = raw.trim();
    if (name === '') continue;
    if (!HOST_NAME_RE.test(name)) {
      throw new ArgumentError(`--allowed-hosts: '${raw}' is not a host name or IP address; give names without scheme or port, separated by commas (e.g. --allowed-hosts diffuse.lan,192.168.1.5), or '*' for any`);
    }
    if (name === '*') any = true;
    else names.add(normalName(name));
  }
  if (isWildcardHost(listenHost)) {
    // Every address of this machine, and its name: what a client on the network would type.
    names.add(normalName(hostname()));
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(normalName(a.address.replace(/%.*$/, '')));
  } else names.add(normalName(listenHost));
  return { any, names };
}

/** A Host header: a name or IPv4 address, or an IPv6 address in brackets, then an optional port. */
const HOST_HEADER_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(:\d{1,5})?$/;

/**
 * The name of a Host header value (`localhost:8080` -> `localhost`, `[::1]:80` -> `[::1]`), or
 * null for a value that is no host (`a@b`, `x:y:z`, spaces).
 */
export function hostNameOf(hostHeader: string): string | null {
  const m = HOST_HEADER_RE.exec(hostHeader.trim());
  return m === null ? null : normalName(m[1]!);
}

/** Whether a request with this Host header is for this server (no header: not a browser; allowed). */
export function hostAllowed(policy: HostPolicy, hostHeader: string | undefined): boolean {
  if (policy.any || hostHeader === undefined) return true;
  const name = hostNameOf(hostHeader);
  return name !== null && policy.names.has(name);
}

/**
 * Whether a state-changing request with this Origin may go on: no Origin (not sent by a browser
 * from a page), or the origin of the server itself (scheme http(s), the same host and port as
 * the Host header). `Origin: null` (a sandboxed frame, a file:// page) is refused.
 */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined) return true;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  if (hostHeader === undefined) return false;
  const m = HOST_HEADER_RE.exec(hostHeader.trim());
  if (m === null) return false;
  const defaultPort = u.protocol === 'https:' ? '443' : '80';
  // Scheme aside (behind a TLS proxy the page is https while the server sees http): the same host and port.
  return normalName(u.hostname) === normalName(m[1]!) && (u.port === '' ? defaultPort : u.port) === (m[2] === undefined ? defaultPort : m[2].slice(1));
}
