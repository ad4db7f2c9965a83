// A tar writer for hostile archives. Real tools (tar, umoci) refuse to write most of what
// the corpus needs — `..` names, links out of the tree, whiteouts beneath symlinks,
// PAX headers of any size — so the test writes the ustar/PAX bytes itself.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  name: string;
  type?: EntryType;
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
  /** PAX extended header records (e.g. `SCHILY.xattr.user.x`), written before the entry. */
  pax?: Record<string, string | Buffer>;
}

const typeFlag: Record<EntryType, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, type: string, size: number, e: TarEntry): Buffer {
  const h = Buffer.alloc(512);
  // Names longer than 100 bytes go into PAX `path`; the header keeps a truncated copy.
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write(octal(e.mode ?? (type === '5' ? 0o755 : 0o644), 8), 100);
  h.write(octal(e.uid ?? 0, 8), 108);
  h.write(octal(e.gid ?? 0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(0, 12), 136);
  h.fill(' ', 148, 156);
  h.write(type, 156);
  h.write((e.linkname ?? '').slice(0, 100), 157);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write(octal(e.devmajor ?? 0, 8), 329);
  h.write(octal(e.devminor ?? 0, 8), 337);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** The bytes of one entry (its PAX header first, when it has one). */
export function entryBytes(e: TarEntry): Buffer {
  const type = typeFlag[e.type ?? 'file'];
  const data = Buffer.from(e.data ?? '');
  const pax: Record<string, string | Buffer> = { ...e.pax };
  if (Buffer.byteLength(e.name) > 100) pax.path = e.name;
  if (e.linkname && Buffer.byteLength(e.linkname) > 100) pax.linkpath = e.linkname;
  const parts: Buffer[] = [];
  if (Object.keys(pax).length) {
    const body = Buffer.concat(Object.entries(pax).map(([k, v]) => paxRecord(k, v)));
    parts.push(header('PaxHeader', 'x', body.length, {} as TarEntry), body, pad(body.length));
  }
  parts.push(header(e.name, type, data.length, e), data, pad(data.length));
  return Buffer.concat(parts);
}

export function tar(entries: Iterable<TarEntry>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) parts.push(entryBytes(e));
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A gzip layer with its digests: `blob` as the registry stores it, `diffId` of the tar. */
export function layer(entries: Iterable<TarEntry>): { blob: Buffer; diffId: string } {
  const t = tar(entries);
  return { blob: gzipSync(t, { level: 1 }), diffId: sha256(t) };
}
