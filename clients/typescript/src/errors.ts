// turnout's error tree, as the service sends it (`{"error": {type, kind, message, retryable,
// ...}}`, the body `turnout run --json` prints). Each class keeps the whole error object in
// `detail`; `retryable` and `retryAfter` (seconds) are what a worker's retry policy reads.
import type { components } from './schema.js';

export type ErrorDetail = components['schemas']['ErrorDetail'];

/** Base of every error the client throws. */
export class TurnoutError extends Error {
  /** The Python class name the service raised (`ValidationError`, `OverloadedError`, ...). */
  readonly type: string;
  /** How it failed: a user-code kind (`runtime`, `syntax`, `timeout`, ...), `infrastructure`,
   * `overloaded`, `draining`, `deadline`, `authentication`, `internal`, or undefined. */
  readonly kind: string | undefined;
  /** Whether the same call may succeed later. */
  readonly retryable: boolean;
  /** Seconds to wait before retrying, when the service said (Retry-After). */
  readonly retryAfter: number | undefined;
  /** The HTTP status of the answer (200 for a user-code error: a completed execution). */
  readonly status: number;
  /** The error object exactly as the service sent it. */
  readonly detail: ErrorDetail;

  constructor(detail: ErrorDetail, status: number, retryAfter?: number) {
    super(detail.message);
    this.name = detail.type;
    this.type = detail.type;
    this.kind = detail.kind ?? undefined;
    this.retryable = detail.retryable;
    const stated = typeof detail.retry_after === 'number' ? detail.retry_after : undefined;
    this.retryAfter = retryAfter ?? stated;
    this.status = status;
    this.detail = detail;
  }
}

/** The request was invalid; `field` names the part (`language`, `context`, `body`, ...). */
export class ValidationError extends TurnoutError {
  get field(): string {
    return String(this.detail.field ?? '');
  }
}

/** The deployment is misconfigured (flags, keys, plugins); an operator must act. */
export class ConfigurationError extends TurnoutError {}

/** The user's code failed: never retryable; `kind` says how, with what it printed. */
export class CodeExecutionError extends TurnoutError {
  get stdout(): string {
    return String(this.detail.stdout ?? '');
  }
  get stderr(): string {
    return String(this.detail.stderr ?? '');
  }
  get line(): number | undefined {
    return typeof this.detail.line === 'number' ? this.detail.line : undefined;
  }
}

/** The backend could not run the code; usually retryable (see `retryAfter`). */
export class InfrastructureError extends TurnoutError {}

/** A shutdown interrupted the execution mid-run: retry it on another replica. */
export class ExecutionInterruptedError extends InfrastructureError {}

/** Every execution slot of the replica is taken (429): retry after `retryAfter`. */
export class OverloadedError extends InfrastructureError {}

/** The replica is draining (SIGTERM): retry on another. */
export class ServiceDrainingError extends InfrastructureError {}

/** The backend did not answer within the node's timeout plus provisioning (504). */
export class DeadlineExceededError extends InfrastructureError {}

/** A bug in turnout or a backend plugin: never retryable. */
export class InternalError extends TurnoutError {}

/** No or a wrong bearer token (401). */
export class AuthenticationError extends TurnoutError {}

const CLASSES: Record<string, typeof TurnoutError> = {
  ValidationError,
  RequestRejectedError: ValidationError,
  ConfigurationError,
  CodeExecutionError,
  InfrastructureError,
  ExecutionInterruptedError,
  OverloadedError,
  ServiceDrainingError,
  NotReadyError: InfrastructureError,
  DeadlineExceededError,
  InternalError,
  AuthenticationError,
};

const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

/** The typed error for an error object the service sent with `status`. */
export function errorFromDetail(
  detail: ErrorDetail,
  status: number,
  retryAfterHeader: string | null = null,
): TurnoutError {
  const Class = CLASSES[detail.type] ?? (detail.retryable ? InfrastructureError : TurnoutError);
  const header = retryAfterHeader === null ? NaN : Number(retryAfterHeader);
  return new Class(detail, status, Number.isFinite(header) ? header : undefined);
}

/** An answer that carries no turnout error body (a proxy's page, a gateway timeout). */
export function errorFromStatus(status: number, text: string): InfrastructureError {
  const detail: ErrorDetail = {
    type: 'InfrastructureError',
    kind: 'infrastructure',
    message: `turnout serve answered HTTP ${status} without a turnout error body: ${text.slice(0, 200)}`,
    retryable: RETRYABLE_STATUSES.has(status),
  };
  return new InfrastructureError(detail, status);
}
