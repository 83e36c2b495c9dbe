// Which Host headers the bridge answers (DNS-rebinding defence: a page on another
// site that resolves its name to 127.0.0.1 still sends its own name as Host).

export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Splits "name:port" / "[v6]:port" into the name, without brackets. */
export function hostName(hostHeader: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader) ?? /^([^:]+)(?::\d+)?$/.exec(hostHeader);
  return (m?.[1] ?? hostHeader).toLowerCase();
}

/** A request's Host is allowed when it names loopback, or the address the bridge was told to listen on. */
export function hostAllowed(hostHeader: string | undefined, listenHost: string): boolean {
  if (!hostHeader) return false;
  const name = hostName(hostHeader);
  if (isLoopbackAddress(name)) return true;
  return name === listenHost.replace(/^\[|\]$/g, '').toLowerCase() && !['0.0.0.0', '::'].includes(name);
}
