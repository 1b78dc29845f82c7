/** A loopback port that was free just now (see free-port.js: not reserved). */
export function freeLoopbackPort(): Promise<number>;
/** Whether a start failed because another process had the port. */
export function portWasTaken(err: unknown): boolean;
/** `start(port)` on a free loopback port, again on another when the port was taken meanwhile (at most `attempts`). */
export function onFreeLoopbackPort<T>(start: (port: number) => Promise<T>, attempts?: number): Promise<T>;
