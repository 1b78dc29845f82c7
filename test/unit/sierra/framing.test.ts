import { strict as assert } from 'assert';
import fc from 'fast-check';
import {
  DtcFrameDecoder,
  decodeBinaryEncodingMessage,
  decodeTextFrame,
  encodeEncodingRequest,
  encodeEncodingResponse,
  encodeMessage,
  encodeMessages,
  toJsonText,
  type SkippedFrame,
} from '../../../lib/sierra/framing';
import { DBL_MAX, Encoding, MessageType, type DtcMessage } from '../../../lib/sierra/protocol';

const heartbeat: DtcMessage = { Type: MessageType.HEARTBEAT, NumDroppedMessages: 0, CurrentDateTime: 1_760_000_000 };
const update: DtcMessage = {
  Type: MessageType.ORDER_UPDATE,
  RequestID: 0,
  TotalNumMessages: 1,
  MessageNumber: 1,
  ServerOrderID: '7',
  ClientOrderID: '20251020-mia-1',
  OrderStatus: 4,
  Price2: DBL_MAX,
};

describe('sierra/framing', () => {
  it('writes the exact 16-byte binary ENCODING_REQUEST of the doc', () => {
    assert.equal(encodeEncodingRequest(Encoding.JSON).toString('hex'), '10000600080000000200000044544300');
  });

  it('reads a binary ENCODING_RESPONSE', () => {
    const response = decodeBinaryEncodingMessage(encodeEncodingResponse(Encoding.JSON));
    assert.deepEqual(response, { Type: 7, ProtocolVersion: 8, Encoding: 2, ProtocolType: 'DTC' });
    assert.equal(decodeBinaryEncodingMessage(Buffer.from('{"Type":3}')), null);
  });

  it('terminates each JSON message with one NUL and omits unset fields', () => {
    const frame = encodeMessage({ Type: MessageType.LOGOFF, Reason: 'bye', DoNotReconnect: undefined });
    assert.equal(frame.toString('utf8'), '{"Type":5,"Reason":"bye"}\0');
  });

  it('writes heartbeats compact only when asked, and never compacts trading messages', () => {
    assert.equal(toJsonText(heartbeat, { compact: true }), '{"Type":3,"F":[0,1760000000]}');
    assert.equal(toJsonText(update, { compact: true }), toJsonText(update));
    assert.equal(toJsonText(heartbeat), '{"Type":3,"NumDroppedMessages":0,"CurrentDateTime":1760000000}');
  });

  it('decodes messages split across reads at every byte', () => {
    const bytes = encodeMessages([heartbeat, update]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const decoder = new DtcFrameDecoder();
      const out = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      assert.equal(out.length, 2, `cut at ${cut}`);
      assert.deepEqual(out[1], JSON.parse(toJsonText(update)));
    }
  });

  it('decodes any split of any number of coalesced messages in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1e6 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (ids, cuts) => {
        const messages: DtcMessage[] = ids.map((id) => ({ Type: MessageType.CANCEL_ORDER, ServerOrderID: String(id) }));
        const bytes = encodeMessages(messages);
        const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
        const decoder = new DtcFrameDecoder();
        const out: DtcMessage[] = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          out.push(...decoder.push(bytes.subarray(from, p)));
          from = p;
        }
        assert.deepEqual(out, messages);
        assert.equal(decoder.pendingBytes, 0);
      }),
    );
  });

  it('skips garbage, non-messages and unknown types without throwing and keeps decoding', () => {
    const skipped: SkippedFrame[] = [];
    const decoder = new DtcFrameDecoder({ onSkip: (s) => skipped.push(s) });
    const out = decoder.push(Buffer.concat([
      Buffer.from('not json\0[1,2]\0{"Type":"x"}\0{"Type":9999,"Foo":1}\0\0'),
      encodeMessage(heartbeat),
    ]));
    assert.deepEqual(out, [heartbeat]);
    assert.deepEqual(skipped.map((s) => s.reason), ['invalid-json', 'not-a-message', 'not-a-message', 'unknown-type']);
    assert.equal(skipped[3].type, 9999);
  });

  it('never reports a password in a skipped frame', () => {
    const skipped: SkippedFrame[] = [];
    new DtcFrameDecoder({ onSkip: (s) => skipped.push(s) }).push('{"Password":"hunter2", broken\0');
    assert.equal(skipped.length, 1);
    assert.ok(!skipped[0].excerpt.includes('hunter2'));
  });

  it('drops an endless frame instead of growing without bound', () => {
    const skipped: SkippedFrame[] = [];
    const decoder = new DtcFrameDecoder({ maxFrameBytes: 64, onSkip: (s) => skipped.push(s) });
    decoder.push('x'.repeat(100));
    assert.equal(decoder.pendingBytes, 0);
    assert.equal(skipped[0].reason, 'oversized');
    assert.deepEqual(decoder.push(encodeMessage(heartbeat)), [heartbeat]);
  });

  it('expands JSON compact heartbeats and market data into named fields', () => {
    const decoder = new DtcFrameDecoder();
    const out = decoder.push('{"Type":3,"F":[2,1760000000]}\0{"Type":112,"F":[4000.25,3,1760000001,1,2]}\0');
    assert.deepEqual(out, [
      { Type: 3, NumDroppedMessages: 2, CurrentDateTime: 1_760_000_000 },
      { Type: 112, Price: 4000.25, Volume: 3, DateTime: 1_760_000_001, SymbolID: 1, AtBidOrAsk: 2 },
    ]);
  });

  it('reads the binary handshake answer and the JSON that follows it in the same read', () => {
    const decoder = new DtcFrameDecoder();
    decoder.expectBinaryMessage();
    const response = encodeEncodingResponse(Encoding.JSON);
    const bytes = Buffer.concat([response, encodeMessage(heartbeat)]);
    const first = decoder.push(bytes.subarray(0, 7));
    assert.deepEqual(first, []);
    const rest = decoder.push(bytes.subarray(7));
    assert.deepEqual(rest, [{ Type: 7, ProtocolVersion: 8, Encoding: 2, ProtocolType: 'DTC' }, heartbeat]);
  });

  it('splits a WebSocket text frame that holds several NUL-separated messages', () => {
    const text = `${toJsonText(heartbeat, { compact: true })}\0${toJsonText(update)}\0`;
    assert.equal(decodeTextFrame(text).length, 2);
    assert.equal(decodeTextFrame(toJsonText(update)).length, 1, 'a frame without its trailing NUL still decodes');
  });
});
