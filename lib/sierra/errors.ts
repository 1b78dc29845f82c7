// Typed Sierra Chart / DTC errors. Each message says what failed, why, and what to do. Server text (ResultText,
// RejectText, InfoText) is quoted as Sierra sent it; the logon password is never part of any message.

import { MiaError } from '../errors';

export class DtcError extends MiaError {}

/** The TCP / WebSocket connection could not be opened, or closed under us. */
export class DtcConnectionError extends DtcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DTC_CONNECTION', message, options);
  }
}

/** LOGON_RESPONSE said no. `reconnectAllowed` is false for ERROR_NO_RECONNECT (the client stops retrying). */
export class DtcLogonError extends DtcError {
  readonly reconnectAllowed: boolean;

  constructor(message: string, reconnectAllowed: boolean) {
    super(reconnectAllowed ? 'DTC_LOGON_FAILED' : 'DTC_LOGON_REFUSED', message);
    this.reconnectAllowed = reconnectAllowed;
  }
}

/** No answer in time: encoding handshake, logon, a request, or the heartbeat. */
export class DtcTimeoutError extends DtcError {
  constructor(message: string) {
    super('DTC_TIMEOUT', message);
  }
}

/** A request was refused by the server (OPEN_ORDERS_REJECT, CURRENT_POSITIONS_REJECT, ...). */
export class DtcRequestRejectedError extends DtcError {
  constructor(message: string) {
    super('DTC_REQUEST_REJECTED', message);
  }
}

/** Something needed a logged-on connection and there is none right now. */
export class DtcNotConnectedError extends DtcError {
  constructor(message: string) {
    super('DTC_NOT_CONNECTED', message);
  }
}

/** The trading switch is off: nothing that places, modifies or cancels an order leaves the client. */
export class TradingDisabledError extends DtcError {
  constructor(message: string) {
    super('DTC_TRADING_DISABLED', message);
  }
}

/** The order manager is reconciling after a reconnect and does not accept new instructions yet. */
export class OrderManagerNotReadyError extends DtcError {
  constructor(message: string) {
    super('DTC_NOT_READY', message);
  }
}

/** The server rejected an order, a cancel or a modify (ORDER_UPDATE reason 8, 9 or 10). */
export class OrderRejectedError extends DtcError {
  readonly clientOrderId: string;

  constructor(clientOrderId: string, message: string) {
    super('DTC_ORDER_REJECTED', message);
    this.clientOrderId = clientOrderId;
  }
}

/** The risk rules refused the order before it was sent. */
export class RiskDeniedError extends DtcError {
  readonly rule: string;

  constructor(rule: string, message: string) {
    super('RISK_DENIED', message);
    this.rule = rule;
  }
}

/** No order with that ClientOrderID is known to this order manager. */
export class OrderNotFoundError extends DtcError {
  constructor(message: string) {
    super('DTC_ORDER_NOT_FOUND', message);
  }
}

/** An answer was lost and the server could not confirm what happened; the order was not re-sent. */
export class OrderStateUnknownError extends DtcError {
  readonly clientOrderId: string;

  constructor(clientOrderId: string, message: string) {
    super('DTC_ORDER_STATE_UNKNOWN', message);
    this.clientOrderId = clientOrderId;
  }
}
