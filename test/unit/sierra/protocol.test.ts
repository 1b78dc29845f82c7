import { strict as assert } from 'assert';
import fc from 'fast-check';
import {
  BuySell,
  DBL_MAX,
  MessageType,
  OrderStatus,
  OrderType,
  OrderUpdateReason,
  PartialFillHandling,
  TimeInForce,
  LogonStatus,
  Encoding,
  isKnownMessageType,
  messageTypeName,
  readPrice,
  toDtcSeconds,
  toEpochMs,
} from '../../../lib/sierra/protocol';

describe('sierra/protocol', () => {
  it('numbers order statuses and update reasons exactly as DTCProtocol.h (several projects are off by one)', () => {
    assert.deepEqual(
      [OrderStatus.UNSPECIFIED, OrderStatus.ORDER_SENT, OrderStatus.PENDING_OPEN, OrderStatus.PENDING_CHILD, OrderStatus.OPEN,
        OrderStatus.PENDING_CANCEL_REPLACE, OrderStatus.PENDING_CANCEL, OrderStatus.FILLED, OrderStatus.CANCELED,
        OrderStatus.REJECTED, OrderStatus.PARTIALLY_FILLED],
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(
      [OrderUpdateReason.UNSET, OrderUpdateReason.OPEN_ORDERS_REQUEST_RESPONSE, OrderUpdateReason.NEW_ORDER_ACCEPTED,
        OrderUpdateReason.GENERAL_ORDER_UPDATE, OrderUpdateReason.ORDER_FILLED, OrderUpdateReason.ORDER_FILLED_PARTIALLY,
        OrderUpdateReason.ORDER_CANCELED, OrderUpdateReason.ORDER_CANCEL_REPLACE_COMPLETE, OrderUpdateReason.NEW_ORDER_REJECTED,
        OrderUpdateReason.ORDER_CANCEL_REJECTED, OrderUpdateReason.ORDER_CANCEL_REPLACE_REJECTED],
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
  });

  it('numbers order entry enums as the doc does', () => {
    assert.deepEqual([OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT, OrderType.MARKET_LIMIT], [1, 2, 3, 4, 7]);
    assert.deepEqual([BuySell.BUY, BuySell.SELL], [1, 2]);
    assert.deepEqual([TimeInForce.DAY, TimeInForce.GOOD_TILL_CANCELED, TimeInForce.IMMEDIATE_OR_CANCEL, TimeInForce.FILL_OR_KILL], [1, 2, 4, 6]);
    assert.deepEqual([PartialFillHandling.REDUCE_QUANTITY, PartialFillHandling.IMMEDIATE_CANCEL], [1, 2]);
    assert.deepEqual([LogonStatus.SUCCESS, LogonStatus.ERROR, LogonStatus.ERROR_NO_RECONNECT, LogonStatus.RECONNECT_NEW_ADDRESS], [1, 2, 3, 4]);
    assert.deepEqual([Encoding.BINARY, Encoding.JSON, Encoding.JSON_COMPACT], [0, 2, 3]);
  });

  it('numbers the message types of the doc tables', () => {
    const expected: Record<string, number> = {
      LOGON_REQUEST: 1, LOGON_RESPONSE: 2, HEARTBEAT: 3, LOGOFF: 5, ENCODING_REQUEST: 6, ENCODING_RESPONSE: 7,
      MARKET_DATA_REQUEST: 101, MARKET_DATA_REJECT: 103, MARKET_DATA_SNAPSHOT: 104, MARKET_DATA_UPDATE_TRADE: 107,
      MARKET_DATA_UPDATE_BID_ASK: 108, MARKET_DATA_UPDATE_TRADE_COMPACT: 112, MARKET_DATA_UPDATE_BID_ASK_COMPACT: 117,
      SUBMIT_NEW_OCO_ORDER: 201, CANCEL_ORDER: 203, CANCEL_REPLACE_ORDER: 204, SUBMIT_NEW_SINGLE_ORDER: 208,
      SUBMIT_FLATTEN_POSITION_ORDER: 209, OPEN_ORDERS_REQUEST: 300, ORDER_UPDATE: 301, OPEN_ORDERS_REJECT: 302,
      HISTORICAL_ORDER_FILLS_REQUEST: 303, HISTORICAL_ORDER_FILL_RESPONSE: 304, CURRENT_POSITIONS_REQUEST: 305,
      POSITION_UPDATE: 306, CURRENT_POSITIONS_REJECT: 307, HISTORICAL_ORDER_FILLS_REJECT: 308,
      TRADE_ACCOUNTS_REQUEST: 400, TRADE_ACCOUNT_RESPONSE: 401, SECURITY_DEFINITION_FOR_SYMBOL_REQUEST: 506,
      SECURITY_DEFINITION_RESPONSE: 507, ACCOUNT_BALANCE_UPDATE: 600, ACCOUNT_BALANCE_REQUEST: 601,
      ACCOUNT_BALANCE_REJECT: 602, USER_MESSAGE: 700, GENERAL_LOG_MESSAGE: 701, ALERT_MESSAGE: 702,
    };
    for (const [name, type] of Object.entries(expected)) {
      assert.equal((MessageType as Record<string, number>)[name], type, name);
      assert.equal(messageTypeName(type), name);
    }
    assert.equal(isKnownMessageType(999), false);
    assert.equal(messageTypeName(999), 'TYPE_999');
  });

  it('reads DBL_MAX, FLT_MAX, absent and non-numeric prices as unset', () => {
    assert.equal(readPrice(DBL_MAX), null);
    assert.equal(readPrice(1.7976931348623157e308), null);
    assert.equal(readPrice(-DBL_MAX), null);
    assert.equal(readPrice(3.4028234663852886e38), null);
    assert.equal(readPrice(undefined), null);
    assert.equal(readPrice('4000'), null);
    assert.equal(readPrice(Number.NaN), null);
    assert.equal(readPrice(4000.25), 4000.25);
    assert.equal(readPrice(0), 0);
    assert.equal(readPrice(-12.5), -12.5);
  });

  it('survives the DBL_MAX sentinel through JSON text', () => {
    const parsed = JSON.parse(JSON.stringify({ Price1: DBL_MAX })) as { Price1: number };
    assert.equal(readPrice(parsed.Price1), null);
  });

  it('accepts date-times in seconds, fractional seconds or milliseconds', () => {
    assert.equal(toEpochMs(1_760_000_000), 1_760_000_000_000);
    assert.equal(toEpochMs(1_760_000_000.25), 1_760_000_000_250);
    assert.equal(toEpochMs(1_760_000_000_123), 1_760_000_000_123);
    assert.equal(toEpochMs(0), null);
    assert.equal(toEpochMs(undefined), null);
    assert.equal(toEpochMs(DBL_MAX), null);
    assert.equal(toDtcSeconds(1_760_000_000_999), 1_760_000_000);
  });

  it('reads a time the same whether it was sent in seconds or milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 946_684_800, max: 4_102_444_800 }), (seconds) => {
        assert.equal(toEpochMs(seconds), toEpochMs(seconds * 1000));
      }),
    );
  });
});
