// A small fetch-based client of `turnout serve` (docs/service.md). `execute` resolves to the
// envelope and throws a typed error (./errors.ts) for everything else, including a user-code
// error, which the service answers 200 as a completed execution. Nothing is retried here.
import {
  errorFromDetail,
  errorFromStatus,
  InfrastructureError,
  type ErrorDetail,
  type TurnoutError,
} from './errors.js';
import type { components } from './schema.js';

export type CodeNode = components['schemas']['CodeNodeConfig'];
export type Envelope = components['schemas']['Envelope'];
export type ExecutionRequest = components['schemas']['ExecutionRequestBody'];

export interface ClientOptions {
  /** The service, for example `http://turnout:8080`. */
  baseUrl: string;
  /** One of the service's tokens (TURNOUT_SERVICE_TOKENS or --token-file). */
  token?: string;
  /** A fetch implementation (default: the global one of Node 20). */
  fetch?: typeof fetch;
}

export interface ExecuteOptions {
  tenantId?: string;
  workflowId?: string;
  executionId?: string;
  /** Aborting disconnects: the service cancels the execution and kills its sandbox. */
  signal?: AbortSignal;
}

/** The result of `execute`: the envelope, and the outputVariable it was wrapped in, if any. */
export interface ExecutionResult {
  envelope: Envelope;
  outputVariable: string | undefined;
  /** What the service sent: `{[outputVariable]: envelope}` or the envelope itself. */
  wire: Record<string, unknown>;
}

export class TurnoutClient {
  readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** Run one code node with the workflow context; the envelope or a typed error. */
  async execute(
    node: CodeNode | Record<string, unknown>,
    context: Record<string, unknown>,
    options: ExecuteOptions = {},
  ): Promise<ExecutionResult> {
    const body: Record<string, unknown> = { node, context };
    for (const key of ['tenantId', 'workflowId', 'executionId'] as const) {
      if (options[key] !== undefined) body[key] = options[key];
    }
    const wire = (await this.request('POST', '/v1/executions', body, options.signal)) as Record<
      string,
      unknown
    >;
    const keys = Object.keys(wire);
    if (keys.length === 1 && !('metadata' in wire)) {
      const outputVariable = keys[0] as string;
      return { envelope: wire[outputVariable] as Envelope, outputVariable, wire };
    }
    return { envelope: wire as unknown as Envelope, outputVariable: undefined, wire };
  }

  /** The flags' decision for these ids (what `turnout flags explain --json` prints). */
  async explain(ids: Omit<ExecuteOptions, 'signal'> = {}): Promise<Record<string, unknown>> {
    const query = new URLSearchParams(
      Object.entries(ids).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    const suffix = query.size ? `?${query}` : '';
    return (await this.request('GET', `/v1/flags/explain${suffix}`)) as Record<string, unknown>;
  }

  /** The registered backends (what `turnout backends --json` prints). */
  async backends(): Promise<Record<string, unknown>> {
    return (await this.request('GET', '/v1/backends')) as Record<string, unknown>;
  }

  /** Whether the service is ready for executions (`GET /readyz`). */
  async ready(): Promise<boolean> {
    try {
      return (await this.fetch(`${this.baseUrl}/readyz`)).status === 200;
    } catch {
      return false;
    }
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<unknown> {
    let response: Response;
    try {
      response = await this.fetch(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw unreachable(this.baseUrl, cause);
    }
    const text = await response.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    const error = errorOf(data, response);
    if (error) throw error;
    if (!response.ok || data === undefined) throw errorFromStatus(response.status, text);
    return data;
  }
}

function errorOf(data: unknown, response: Response): TurnoutError | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const keys = Object.keys(data);
  const detail = (data as { error?: unknown }).error;
  if (keys.length !== 1 || typeof detail !== 'object' || detail === null) return undefined;
  if ('metadata' in detail) return undefined; // an envelope wrapped in outputVariable "error"
  return errorFromDetail(detail as ErrorDetail, response.status, response.headers.get('retry-after'));
}

function unreachable(baseUrl: string, cause: unknown): InfrastructureError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new InfrastructureError(
    {
      type: 'InfrastructureError',
      kind: 'infrastructure',
      message: `turnout serve at ${baseUrl} could not be reached: ${reason}`,
      retryable: true,
    },
    0,
  );
}
