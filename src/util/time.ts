// CRI timestamps are int64 nanoseconds since the epoch; records keep them as decimal strings.

/** Now, in ns since the epoch (ms precision from the wall clock plus sub-ms from hrtime). */
export function nowNs(): string {
  return (BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000)).toString();
}

/** RFC 3339 with up to 9 fractional digits (what berth-monitor writes) → ns since the epoch. */
export function rfc3339ToNs(ts: string): string {
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return '0';
  const frac = (/\.(\d+)/.exec(ts)?.[1] ?? '').padEnd(9, '0').slice(0, 9);
  return (BigInt(Math.floor(ms / 1000)) * 1_000_000_000n + BigInt(frac)).toString();
}
