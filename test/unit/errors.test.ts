import { status } from '@grpc/grpc-js';
import test from 'ava';
import { alreadyExists, BerthError, deadline, internal, invalid, notFound, precondition, toGrpc, unavailable, wrap } from '../../src/errors.js';

test('each error kind maps to its gRPC code in one table; unknown errors are INTERNAL', (t) => {
  t.is(toGrpc(invalid('x')).code, status.INVALID_ARGUMENT);
  t.is(toGrpc(notFound('x')).code, status.NOT_FOUND);
  t.is(toGrpc(alreadyExists('x')).code, status.ALREADY_EXISTS);
  t.is(toGrpc(precondition('x')).code, status.FAILED_PRECONDITION);
  t.is(toGrpc(unavailable('x')).code, status.UNAVAILABLE);
  t.is(toGrpc(deadline('x')).code, status.DEADLINE_EXCEEDED);
  t.is(toGrpc(internal('x')).code, status.INTERNAL);
  t.is(toGrpc(new Error('boom')).code, status.INTERNAL);
  t.is(toGrpc(new BerthError('Unauthenticated', 'who')).code, status.UNAUTHENTICATED);
});

test('wrap adds context and keeps the kind', (t) => {
  const e = wrap(notFound('image busybox not found'), 'create container c in pod p');
  t.is(e.kind, 'NotFound');
  t.is(toGrpc(e).details, 'create container c in pod p: image busybox not found');
  t.is(wrap(new Error('EIO'), 'mount').kind, 'Internal');
});
