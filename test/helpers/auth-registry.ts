// A docker-registry of the test's own (never the shared one on :5100), on a free
// loopback port, with its own storage, and htpasswd (Basic) auth: the bcrypt hash comes
// from the C library's crypt(3) (libxcrypt) through python3's crypt module.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface AuthRegistry {
  address: string;
  dir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function bcrypt(password: string): string {
  const py = 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))';
  const h = execFileSync('python3', ['-W', 'ignore', '-c', py, password], { encoding: 'utf8' }).trim();
  if (!h.startsWith('$2')) throw new Error(`crypt(3) did not produce a bcrypt hash: ${h}`);
  return h;
}

export async function startHtpasswdRegistry(users: Record<string, string>): Promise<AuthRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-authreg-'));
  writeFileSync(path.join(dir, 'htpasswd'), Object.entries(users).map(([u, p]) => `${u}:${bcrypt(p)}\n`).join(''));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  writeFileSync(
    path.join(dir, 'config.yml'),
    `version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: ${dir}/data } }
http: { addr: ${address}, secret: berth-test }
auth: { htpasswd: { realm: berth-test, path: ${dir}/htpasswd } }
`,
  );
  const proc: ChildProcess = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://${address}/v2/`).then(
      (r) => r.status === 401,
      () => false,
    );
    if (ok) break;
    if (i > 100 || proc.exitCode !== null) throw new Error(`docker-registry did not come up on ${address}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address,
    dir,
    async stop() {
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
