// The SPDY/3.1 framing against what a real peer produces: header blocks compressed by
// zlib with the protocol dictionary and a sync flush per block (as Go's spdystream does).
import test from 'ava';
import zlib from 'node:zlib';
import {
  adler32, controlFrame, dataFrame, decodeHeaderBlock, encodeHeaderBlock, FLAG_FIN, FrameType, HEADER_DICTIONARY, HeaderCompressor,
  HeaderDecompressor, MAX_FRAME_PAYLOAD, MAX_HEADER_BLOCK, parseFrames,
} from '../../src/stream/spdy-frames.js';

/** A peer's compressor: one deflate stream for the connection, a sync flush per block. */
function peerCompressor() {
  const d = zlib.createDeflate({ dictionary: HEADER_DICTIONARY, level: 9 });
  return (block: Buffer) =>
    new Promise<Buffer>((resolve) => {
      const out: Buffer[] = [];
      const onData = (c: Buffer) => out.push(c);
      d.on('data', onData);
      d.write(block);
      d.flush(zlib.constants.Z_SYNC_FLUSH, () =>
        setImmediate(() => {
          d.off('data', onData);
          resolve(Buffer.concat(out));
        }),
      );
    });
}

test('the dictionary is the 1423 bytes of SPDY/3 (its Adler-32 is what zlib headers name)', (t) => {
  t.is(HEADER_DICTIONARY.length, 1423);
  t.is(adler32(HEADER_DICTIONARY), 3821447106);
  t.is(adler32(Buffer.from('Wikipedia')), 0x11e60398);
});

test('frames: control and data frames round-trip; partial frames wait for the rest', (t) => {
  const a = controlFrame(FrameType.Ping, 0, Buffer.from([0, 0, 0, 7]));
  const b = dataFrame(5, FLAG_FIN, Buffer.from('hello'));
  const all = Buffer.concat([a, b]);
  const { frames, rest } = parseFrames(all.subarray(0, all.length - 2));
  t.is(frames.length, 1);
  t.deepEqual(frames[0], { kind: 'control', version: 3, type: FrameType.Ping, flags: 0, payload: Buffer.from([0, 0, 0, 7]) });
  const more = parseFrames(Buffer.concat([rest, all.subarray(all.length - 2)]));
  t.deepEqual(more.frames, [{ kind: 'data', streamId: 5, flags: FLAG_FIN, data: Buffer.from('hello') }]);
  t.is(more.rest.length, 0);
});

test('frames: a length over the limit is refused before it is buffered', (t) => {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(1, 0);
  h.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 4);
  t.throws(() => parseFrames(h), { message: /over the/ });
});

test('header blocks: names lower-cased, values kept; truncated or absurd blocks are refused', (t) => {
  const b = encodeHeaderBlock({ StreamType: 'stdout', port: '80' });
  t.deepEqual([...decodeHeaderBlock(b)], [['streamtype', 'stdout'], ['port', '80']]);
  t.throws(() => decodeHeaderBlock(b.subarray(0, b.length - 1)), { message: /truncated/ });
  const many = Buffer.alloc(4);
  many.writeUInt32BE(1_000_000);
  t.throws(() => decodeHeaderBlock(many), { message: /headers/ });
});

test('decompressor: reads a peer\'s blocks one after another from one zlib stream', async (t) => {
  const compress = peerCompressor();
  const inflater = new HeaderDecompressor();
  const blocks: Array<Record<string, string>> = [{ streamtype: 'error' }, { streamtype: 'stdout' }, { streamtype: 'data', port: '8080', requestid: '0' }];
  for (const h of blocks) {
    const block = await compress(encodeHeaderBlock(h));
    t.deepEqual(Object.fromEntries(decodeHeaderBlock(await inflater.decompress(block))), h);
  }
  inflater.close();
});

test('decompressor: a zlib bomb stops at the limit, garbage is an error', async (t) => {
  const compress = peerCompressor();
  const inflater = new HeaderDecompressor();
  await t.throwsAsync(inflater.decompress(await compress(Buffer.alloc(MAX_HEADER_BLOCK * 4))), { message: /inflates past/ });
  inflater.close();
  const other = new HeaderDecompressor();
  await t.throwsAsync(other.decompress(Buffer.from('not zlib at all')));
  other.close();
});

test('compressor: stored blocks any inflater with the dictionary reads, block after block', async (t) => {
  const c = new HeaderCompressor();
  const inflate = zlib.createInflate({ dictionary: HEADER_DICTIONARY });
  const got: Buffer[] = [];
  inflate.on('data', (d: Buffer) => got.push(d));
  const blocks = [encodeHeaderBlock({}), encodeHeaderBlock({ a: 'b' }), encodeHeaderBlock({ big: 'x'.repeat(70_000) })];
  for (const b of blocks) inflate.write(c.compress(b));
  await new Promise<void>((resolve) => inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => setImmediate(resolve)));
  t.deepEqual(Buffer.concat(got), Buffer.concat(blocks));
  // Each block ends with an empty stored block (a sync flush), so a reader can stop at the frame's end.
  t.deepEqual(c.compress(Buffer.alloc(0)), Buffer.from([0, 0, 0, 0xff, 0xff]));
});
