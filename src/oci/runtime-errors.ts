// What an OCI runtime's failure means for the caller. Most are berth's or the host's
// problem (INTERNAL), but a command that cannot be executed in the image is the
// request's: the kubelet should see INVALID_ARGUMENT, not a runtime fault.
import { BerthError, type ErrorKind } from '../errors.js';

const badCommand = [
  /exec: "[^"]*": (stat [^:]*: )?no such file or directory/, // runc
  /exec: "[^"]*": executable file not found in \$PATH/, // runc
  /exec: "[^"]*": permission denied/, // runc
  /executable file `[^`]*` not found/, // crun
  /open executable: (No such file or directory|Permission denied)/, // crun
];

// berth-monitor refuses a log path with a symlink on it (never writing through it): the
// pod's log directory is in a state the request cannot be served in.
const badLogPath = /open log\b.*(symbolic link|not a directory)/i;

export function classifyRuntimeError(message: string): ErrorKind {
  if (badLogPath.test(message)) return 'FailedPrecondition';
  return badCommand.some((re) => re.test(message)) ? 'InvalidArgument' : 'Internal';
}

export function runtimeError(message: string): BerthError {
  return new BerthError(classifyRuntimeError(message), message);
}
