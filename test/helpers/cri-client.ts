// Promise-returning CRI clients for tests: `rt.runPodSandbox({...})` takes a partial
// request (filled with proto defaults by the generated fromPartial) and resolves to the response.
import { type CallOptions, type ClientUnaryCall, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import * as api from '../../src/gen/runtime/v1/api.js';

type DeepPartial<T> = T extends Uint8Array | bigint ? T : T extends Array<infer U> ? Array<DeepPartial<U>> : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
type Unary<F> = F extends (req: infer Q, md: Metadata, opts: Partial<CallOptions>, cb: (e: ServiceError | null, r: infer R) => void) => ClientUnaryCall
  ? (req?: DeepPartial<Q>, timeoutMs?: number) => Promise<R>
  : never;
export type Promisified<C> = { [K in keyof C as C[K] extends (...a: never[]) => ClientUnaryCall ? K : never]: Unary<C[K]> } & { close(): void };

function promisify<C extends object>(client: C & { close(): void }): Promisified<C> {
  return new Proxy(client, {
    get(target, prop: string) {
      if (prop === 'close') return () => target.close();
      const fn = (target as Record<string, unknown>)[prop] as (...a: unknown[]) => ClientUnaryCall;
      const msg = (api as Record<string, unknown>)[`${prop[0]!.toUpperCase()}${prop.slice(1)}Request`] as { fromPartial(x: unknown): unknown };
      return (req: unknown = {}, timeoutMs = 120_000) =>
        new Promise((resolve, reject) => {
          fn.call(target, msg.fromPartial(req), new Metadata(), { deadline: Date.now() + timeoutMs }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r)));
        });
    },
  }) as unknown as Promisified<C>;
}

// The kubelet's limit on the messages it takes from a runtime.
const kubeletLimits = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };

export function clients(socket: string) {
  const rt = new api.RuntimeServiceClient(`unix://${socket}`, credentials.createInsecure(), kubeletLimits);
  const img = new api.ImageServiceClient(`unix://${socket}`, credentials.createInsecure(), kubeletLimits);
  return { rt: promisify(rt), img: promisify(img) };
}
