#!/usr/bin/env node
// berthd entry point. V8 sizes its heap when it starts, so berthd's heap flags are given
// by re-executing itself once with them (same PID, same fds: systemd and sd_notify see one
// process), then the daemon is loaded.
//
// --max-semi-space-size: V8 grows the young generation up to 16 MiB per semi-space under
// allocation bursts (a burst of pod starts) and keeps it; berthd's requests allocate little,
// so a 1 MiB semi-space costs a few more (sub-millisecond) scavenges and keeps ~20 MB off
// berthd's idle RSS (the pod bench prints it).
export const heapFlags = ['--max-semi-space-size=1'];

const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
if (execve && process.env.BERTH_REEXEC !== '0' && !heapFlags.every((f) => process.execArgv.includes(f))) {
  execve(process.execPath, [process.execPath, ...process.execArgv, ...heapFlags, ...process.argv.slice(1)], process.env);
}
await import('./berthd.js');
