// What Exec and Attach share at the RPC edge: the legal stdin/stdout/stderr/tty
// combinations (as the kubelet's streaming server checks them).
import { invalid } from '../errors.js';

export function checkChannels(r: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): void {
  if (r.tty && r.stderr) throw invalid('tty and stderr cannot both be true: a terminal has one output stream');
  if (!r.stdin && !r.stdout && !r.stderr) throw invalid('one of stdin, stdout or stderr must be set');
}
