// Who may use the bridge. The app tab proves itself with a secret that only the printed URL
// carries (as Jupyter does): opening `…/?token=SECRET` sets an HttpOnly SameSite=Strict
// cookie and redirects to the clean URL. An Origin header proves nothing — any local
// process can forge it — so the tab WebSocket, /bridge/status and /git-proxy need the cookie
// (or, where the bridge has one, the API key). The secret is compared in constant time.
// (A tab on another origin — the static site — will present the same secret from its own
// storage; `tabSecretOk` is the one place that check goes.)
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const TOKEN_PARAM = 'token';

/** Cookies are shared by every port of a host, so the name carries the port. */
export function tabCookieName(port: number): string {
  return `homecoder-tab-${port}`;
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison of two secrets (different lengths never match). */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export class TabAccess {
  constructor(
    readonly secret: string,
    private port: () => number,
  ) {}

  /** Whether the request carries the tab's cookie. */
  tabSecretOk(req: IncomingMessage): boolean {
    const v = cookieValue(req, tabCookieName(this.port()));
    return v !== undefined && sameSecret(v, this.secret);
  }

  /** The app's address with the secret, as printed and as `homecoder url` shows it. */
  appUrl(base: string): string {
    return `${base}?${TOKEN_PARAM}=${this.secret}`;
  }

  /**
   * A page request that carries `?token=`: a good token sets the cookie and redirects to the
   * same address without it; a wrong one gets the "how to get in" page. Returns whether it answered.
   */
  handleToken(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    const token = url.searchParams.get(TOKEN_PARAM);
    if (token === null) return false;
    if (!sameSecret(token, this.secret)) {
      this.sendLoginPage(res, 'This link is not (or no longer) valid: the bridge was restarted or the link is from another one.');
      return true;
    }
    url.searchParams.delete(TOKEN_PARAM);
    res.writeHead(302, {
      location: `${url.pathname}${url.search}`,
      'set-cookie': `${tabCookieName(this.port())}=${this.secret}; Path=/; HttpOnly; SameSite=Strict`,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    });
    res.end();
    return true;
  }

  /** The page shown instead of the app to a browser without the cookie. */
  sendLoginPage(res: ServerResponse, why = 'This browser has not been let in to this Homecoder bridge yet.'): void {
    const html = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Homecoder: open the link with the secret</title>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Open Homecoder with its link</h1>
<p>${why}</p>
<p>Open the link that <code>npm start</code> printed when the bridge started
(<code>http://127.0.0.1:PORT/?token=…</code>), or print it again with:</p>
<pre>npx homecoder url</pre>
<p>The secret in that link keeps other programs and web pages from taking over the app's connection to the bridge.</p>
</body></html>`;
    res.writeHead(401, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(html),
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    });
    res.end(html);
  }
}
