import test from 'ava';
import { bandwidthFrom, capabilityArgs, parseQuantity, runtimeConfigFor } from '../../src/cni/capabilities.js';
import { BerthError } from '../../src/errors.js';

const pod = { podId: 'p1', netns: '/ns', namespace: 'ns', name: 'n', uid: 'u' };

test('quantities as the kubelet reads them', (t) => {
  t.is(parseQuantity('10M'), 10_000_000);
  t.is(parseQuantity('1Mi'), 1_048_576);
  t.is(parseQuantity('1.5k'), 1500);
  t.is(parseQuantity('1e6'), 1_000_000);
  t.is(parseQuantity('100'), 100);
  t.throws(() => parseQuantity('ten'));
  t.throws(() => parseQuantity('10Q'));
});

test('bandwidth from the pod annotations, bounded 1k…1P', (t) => {
  t.deepEqual(bandwidthFrom({ 'kubernetes.io/ingress-bandwidth': '1M' }), { ingressRate: 1_000_000, ingressBurst: 2 ** 32 - 1 });
  t.deepEqual(Object.keys(bandwidthFrom({ 'kubernetes.io/ingress-bandwidth': '1M', 'kubernetes.io/egress-bandwidth': '2M' })!).sort(), ['egressBurst', 'egressRate', 'ingressBurst', 'ingressRate']);
  t.is(bandwidthFrom({}), undefined);
  const e = t.throws(() => bandwidthFrom({ 'kubernetes.io/egress-bandwidth': '10' }));
  t.true(e instanceof BerthError && e.kind === 'InvalidArgument');
  t.regex(e.message, /egress-bandwidth/);
  t.throws(() => bandwidthFrom({ 'kubernetes.io/egress-bandwidth': 'fast' }), { message: /not a quantity/ });
});

test('capability args: host ports only, dns, annotations, cgroupPath, ipRanges from the pod CIDR', (t) => {
  const caps = capabilityArgs(
    {
      ...pod,
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 0, containerPort: 81, protocol: 'udp' }],
      annotations: { a: 'b', 'berth.io/ips': '10.0.0.9/24, fd00::9/64', 'berth.io/mac': 'c2:00:00:00:00:09' },
      dns: { servers: ['10.96.0.10'], searches: ['svc'], options: ['ndots:5'] },
      cgroupPath: '/kubepods/pod1',
    },
    '10.244.1.0/24',
  );
  t.deepEqual(caps.portMappings, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  t.deepEqual(caps.dns, { servers: ['10.96.0.10'], searches: ['svc'], options: ['ndots:5'] });
  t.deepEqual(caps.ips, ['10.0.0.9/24', 'fd00::9/64']);
  t.is(caps.mac, 'c2:00:00:00:00:09');
  t.is((caps['io.kubernetes.cri.pod-annotations'] as Record<string, string>).a, 'b');
  t.is(caps.cgroupPath, '/kubepods/pod1');
  t.deepEqual(caps.ipRanges, [[{ subnet: '10.244.1.0/24' }]]);
  t.false('portMappings' in capabilityArgs(pod), 'no host ports: no portMappings');
  t.false('ipRanges' in capabilityArgs(pod));
});

test('runtimeConfig carries only what the plugin declares and berth has', (t) => {
  const caps = capabilityArgs({ ...pod, portMappings: [{ hostPort: 1, containerPort: 2, protocol: 'tcp' }] });
  t.deepEqual(runtimeConfigFor({ type: 'portmap', capabilities: { portMappings: true, bandwidth: true } }, caps), { portMappings: caps.portMappings });
  t.is(runtimeConfigFor({ type: 'bridge' }, caps), undefined);
  t.is(runtimeConfigFor({ type: 'portmap', capabilities: { portMappings: false } }, caps), undefined);
});
