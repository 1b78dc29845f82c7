// The base of every error the suite reports. A trader reads `message`: what failed, why, and what to do.
// `code` lets a flow (Catch node) or a test branch on the kind without parsing text; `cause` keeps the wire error.

export class MiaError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input to a node or a library call: the message says which field and what was expected. */
export class InvalidInputError extends MiaError {
  constructor(message: string) {
    super('INVALID_INPUT', message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
