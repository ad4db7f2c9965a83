// The per-pod files containers bind-mount: /etc/resolv.conf, /etc/hostname, /etc/hosts.
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { DNSConfig } from '../gen/runtime/v1/api.js';

export async function writePodFiles(dir: string, hostname: string, dns: DNSConfig | undefined, ips: string[]): Promise<Array<{ destination: string; source: string }>> {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  let resolv: string;
  if (dns && (dns.servers.length || dns.searches.length || dns.options.length)) {
    resolv = [
      ...dns.servers.map((s) => `nameserver ${s}`),
      ...(dns.searches.length ? [`search ${dns.searches.join(' ')}`] : []),
      ...(dns.options.length ? [`options ${dns.options.join(' ')}`] : []),
    ].join('\n');
  } else {
    resolv = await fs.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  }
  const hosts = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...ips.map((ip) => `${ip}\t${hostname}`)].join('\n');
  const files = { 'resolv.conf': `${resolv.trim()}\n`, hostname: `${hostname}\n`, hosts: `${hosts}\n` };
  // Never through a symlink planted in the pod's directory (the same rule as for logs).
  const flag = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  for (const [name, body] of Object.entries(files)) await fs.writeFile(path.join(dir, name), body, { mode: 0o644, flag });
  return Object.keys(files).map((name) => ({ destination: `/etc/${name}`, source: path.join(dir, name) }));
}
