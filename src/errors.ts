// Typed errors with context, mapped to gRPC status codes in exactly one place (toGrpc).
import { status } from '@grpc/grpc-js';

export type ErrorKind =
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'FailedPrecondition'
  | 'Unavailable'
  | 'Unimplemented'
  | 'DeadlineExceeded'
  | 'Unauthenticated'
  | 'Internal';

export class BerthError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `BerthError(${kind})`;
  }
}

export const invalid = (msg: string) => new BerthError('InvalidArgument', msg);
export const notFound = (msg: string) => new BerthError('NotFound', msg);
export const alreadyExists = (msg: string) => new BerthError('AlreadyExists', msg);
export const precondition = (msg: string) => new BerthError('FailedPrecondition', msg);
export const unavailable = (msg: string, cause?: unknown) => new BerthError('Unavailable', msg, { cause });
export const internal = (msg: string, cause?: unknown) => new BerthError('Internal', msg, { cause });

const codes: Record<ErrorKind, status> = {
  InvalidArgument: status.INVALID_ARGUMENT,
  NotFound: status.NOT_FOUND,
  AlreadyExists: status.ALREADY_EXISTS,
  FailedPrecondition: status.FAILED_PRECONDITION,
  Unavailable: status.UNAVAILABLE,
  Unimplemented: status.UNIMPLEMENTED,
  DeadlineExceeded: status.DEADLINE_EXCEEDED,
  Unauthenticated: status.UNAUTHENTICATED,
  Internal: status.INTERNAL,
};

/** Adds context to an error while keeping its kind (unknown errors become Internal). */
export function wrap(err: unknown, context: string): BerthError {
  const msg = err instanceof Error ? err.message : String(err);
  const kind = err instanceof BerthError ? err.kind : 'Internal';
  return new BerthError(kind, `${context}: ${msg}`, { cause: err });
}

export function toGrpc(err: unknown): { code: status; details: string } {
  if (err instanceof BerthError) return { code: codes[err.kind], details: err.message };
  return { code: status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}
export const deadline = (msg: string) => new BerthError('DeadlineExceeded', msg);
