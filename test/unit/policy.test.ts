import test from 'ava';
import { Policy } from '../../src/image/policy.js';

const policy = Policy.parse(
  JSON.stringify({
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        'reg.example.com:5000/team/app:v1': [{ type: 'insecureAcceptAnything' }],
        'reg.example.com:5000/team': [{ type: 'reject' }],
        'reg.example.com:5000': [{ type: 'insecureAcceptAnything' }],
        '*.trusted.io': [{ type: 'insecureAcceptAnything' }],
        'signed.example.com': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k' }],
      },
    },
  }),
);

test('the most specific docker scope wins: reference, repository, namespaces, host, wildcard, default', (t) => {
  t.notThrows(() => policy.check('reg.example.com:5000/team/app:v1', 'reg.example.com:5000/team/app'));
  t.throws(() => policy.check('reg.example.com:5000/team/app:v2', 'reg.example.com:5000/team/app'), { message: /rejected by signature policy.*docker:reg\.example\.com:5000\/team\)/ });
  t.notThrows(() => policy.check('reg.example.com:5000/other/app:v1', 'reg.example.com:5000/other/app'));
  t.notThrows(() => policy.check('mirror.trusted.io/x:1', 'mirror.trusted.io/x'));
  t.throws(() => policy.check('docker.io/library/busybox:latest', 'docker.io/library/busybox'), { message: /rejected.*\(default\)/ });
});

test('signature requirements fail closed, saying berth does not verify signatures yet', (t) => {
  const e = t.throws(() => policy.check('signed.example.com/a:1', 'signed.example.com/a'));
  t.regex(e!.message, /requires signedBy, and berth does not verify signatures yet/);
  t.is((e as { kind?: string }).kind, 'FailedPrecondition');
});

test('a missing policy file accepts everything; a malformed one is refused clearly', (t) => {
  t.notThrows(() => Policy.load('/nonexistent/policy.json').check('a.io/b:c', 'a.io/b'));
  t.throws(() => Policy.parse('{"default": 1}', 'p.json'), { message: /p\.json: "default" must be a list/ });
  t.throws(() => Policy.parse('{', 'p.json'), { message: /signature policy p\.json/ });
});
