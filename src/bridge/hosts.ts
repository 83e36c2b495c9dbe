// Which Host headers and Origins the bridge answers (DNS-rebinding defence: a page on another
// site that resolves its name to 127.0.0.1 still sends its own name as Host), and which
// requests come from a page of another site (refused: no-cors requests still reach a server).
import type { IncomingMessage } from 'node:http';

export function isLoopbackAddress(host: string): boolean {
  const h = host
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Splits "name:port" / "[v6]:port" into the name, without brackets. */
export function hostName(hostHeader: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader) ?? /^([^:]+)(?::\d+)?$/.exec(hostHeader);
  return (m?.[1] ?? hostHeader).toLowerCase();
}

/**
 * A request's Host is allowed when it names loopback, or the address the bridge was told to
 * listen on. A loopback name counts only on a loopback connection: a LAN peer that sends
 * `Host: localhost` is not local.
 */
export function hostAllowed(hostHeader: string | undefined, listenHost: string, remoteAddress?: string): boolean {
  if (!hostHeader) return false;
  const name = hostName(hostHeader);
  if (isLoopbackAddress(name)) return remoteAddress === undefined || isLoopbackAddress(remoteAddress);
  return name === listenHost.replace(/^\[|\]$/g, '').toLowerCase() && !['0.0.0.0', '::'].includes(name);
}

/** Whether `origin` is the app served by this bridge (http, loopback or the listen host, same port). */
export function originAllowed(origin: string | undefined, listenHost: string, port: number): boolean {
  if (!origin) return false;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' || Number(u.port || 80) !== port) return false;
  const name = hostName(u.host);
  return isLoopbackAddress(name) || hostAllowed(u.host, listenHost);
}

/**
 * Why a request comes from a page of another site, or undefined when it does not: a foreign
 * `Origin`, or `Sec-Fetch-Site` other than same-origin/none (another port of 127.0.0.1 is
 * "same-site" but not this app). Editors send neither header.
 */
export function crossSiteReason(req: IncomingMessage, listenHost: string, port: number): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined && !originAllowed(origin, listenHost, port))
    return `Requests from ${origin} are refused: only the Homecoder app itself and editors (which send no Origin) may call the bridge.`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return `A ${site} request from a web page is refused: only the Homecoder app itself and editors may call the bridge.`;
  return undefined;
}
