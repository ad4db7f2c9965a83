// Requests to a registry's token server (the Bearer flow's realm). containers/image and
// Docker send them through the registry's own HTTP client, so a registry's certs.d
// material applies to its token server too: its CAs are trusted there and its client
// certificate offered (a registry behind mTLS usually has its auth behind the same
// gate). The token server is always verified: `insecure` in registries.conf names the
// registry's host, and credentials go to the realm, so it is not stretched to cover it.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { RegistryTls } from './certs-d.js';

/** A token response is a small JSON document; more than this is not one. */
const MAX_BODY = 1024 * 1024;

export interface TokenResponse {
  status: number;
  body: string;
}

export function tokenRequest(
  url: URL,
  opts: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; signal: AbortSignal; tls: RegistryTls },
): Promise<TokenResponse> {
  const headers: Record<string, string> = { 'user-agent': 'berth', ...opts.headers };
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = String(Buffer.byteLength(opts.body));
  }
  const secure = url.protocol === 'https:';
  // Node's own trust (bundled roots, NODE_EXTRA_CA_CERTS) plus the registry's CAs;
  // `ca` replaces the defaults, so they are listed again.
  const ca = secure && opts.tls.caPem.length ? [...tls.getCACertificates('default'), ...opts.tls.caPem] : undefined;
  // Node offers one certificate per key type; the first pair is the one containers/image
  // would pick for a server that accepts any.
  const client = secure ? opts.tls.clientCerts[0] : undefined;
  const options: https.RequestOptions = { method: opts.method, headers, signal: opts.signal, ca, cert: client?.certPem, key: client?.keyPem };
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`token response over ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
