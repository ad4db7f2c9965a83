// A registry's TLS material from certs.d, as containers/image (pkg/tlsclientconfig) and
// Docker read it: in each `<dir>/<host[:port]>/`, every `*.crt` is a CA trusted for that
// registry, and every `<name>.cert` with its `<name>.key` is a client certificate
// offered to a registry that asks for one (mTLS). Half a pair is an error naming the
// file: silently pulling without the certificate would only fail later, and vaguely.
// Read at each pull, so an added or renewed certificate applies at once.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { precondition } from '../errors.js';

export interface ClientCert {
  /** The certificate chain, PEM. */
  certPem: string;
  /** Its private key, PEM: never logged, never put in an error. */
  keyPem: string;
  /** The .cert file, named in errors. */
  source: string;
}

export interface RegistryTls {
  /** Extra CA certificates (PEM) trusted for this registry. */
  caPem: string[];
  /** Client certificates in the order found (dirs in order, names sorted). */
  clientCerts: ClientCert[];
}

export function certsDirTls(host: string, dirs: string[] = []): RegistryTls {
  const tls: RegistryTls = { caPem: [], clientCerts: [] };
  // The host names a directory: never let it climb out of the certs dir.
  if (!host || host.includes('/') || host.startsWith('.')) return tls;
  for (const dir of dirs) {
    const hostDir = path.join(dir, host);
    let names: string[];
    try {
      names = readdirSync(hostDir).sort();
    } catch {
      continue;
    }
    const has = new Set(names);
    const read = (n: string) => {
      try {
        return readFileSync(path.join(hostDir, n), 'utf8');
      } catch (e) {
        throw precondition(`certs.d: cannot read ${path.join(hostDir, n)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    };
    for (const n of names) {
      if (n.endsWith('.crt')) tls.caPem.push(read(n));
      else if (n.endsWith('.cert')) {
        const key = `${n.slice(0, -'.cert'.length)}.key`;
        if (!has.has(key)) throw precondition(`certs.d: client certificate ${path.join(hostDir, n)} has no key ${key} beside it (a CA certificate is named *.crt)`);
        tls.clientCerts.push({ certPem: read(n), keyPem: read(key), source: path.join(hostDir, n) });
      } else if (n.endsWith('.key')) {
        const cert = `${n.slice(0, -'.key'.length)}.cert`;
        if (!has.has(cert)) throw precondition(`certs.d: key ${path.join(hostDir, n)} has no client certificate ${cert} beside it`);
      }
    }
  }
  return tls;
}
