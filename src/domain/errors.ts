// Domain errors carry the HTTP-free meaning of a failure; http/errors.ts maps them to the
// contract's error shape. Messages are written for the person who sent the request and never
// include secrets.
export type FieldProblem = { loc: string[]; msg: string; type_: string };

export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: FieldProblem[],
  ) {
    super(message);
    this.name = code;
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, fields?: FieldProblem[]) {
    super(400, 'ValidationError', message, fields);
  }
  static field(loc: string[], msg: string): ValidationError {
    return new ValidationError(`${loc.join('.')}: ${msg}`, [{ loc, msg, type_: 'value_error' }]);
  }
}

/** The resource exists but its state does not allow the operation (the contract answers 400). */
export class InvalidStateError extends DomainError {
  constructor(message: string) {
    super(400, 'InvalidStateError', message);
  }
}

export class NotFoundError extends DomainError {
  constructor(message: string) {
    super(404, 'NotFound', message);
  }
}

export class UnauthorizedError extends DomainError {
  constructor(message: string) {
    super(401, 'Unauthorized', message);
  }
}

export class NotImplementedError extends DomainError {
  constructor(message: string) {
    super(501, 'NotImplemented', message);
  }
}
