// systemd's notify protocol (Type=notify): READY=1 once the CRI socket serves, RELOADING=1
// around a SIGHUP reload, STOPPING=1 on the way out.
import { native } from '../native/index.js';

/**
 * Takes NOTIFY_SOCKET out of the environment (as sd_notify's unset_environment does):
 * runc honours it too, and a runtime that inherits it waits for a readiness message
 * that never comes. Returns the notifier; a no-op outside systemd.
 */
export function takeNotifySocket(env: NodeJS.ProcessEnv = process.env): (state: string) => void {
  const socket = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  return socket ? (state) => native.sdNotify(socket, state) : () => undefined;
}
