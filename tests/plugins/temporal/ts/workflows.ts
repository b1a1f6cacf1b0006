// A TypeScript workflow running a code node through turnout. The activity
// `execute_code_node` is served by a Python worker (`turnout worker`) polling the task
// queue `turnout-code-nodes`; Temporal routes the call there by task queue alone.
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';

/** A code node as the platform stores it (docs/contract.md). */
export interface CodeNode {
  language: 'javascript' | 'python';
  code: string;
  timeout?: number; // milliseconds, default 30000, at most 300000
  inputVariables?: string[]; // context keys the code reads (empty: the whole context)
  outputVariable?: string | null; // wraps the result as { [outputVariable]: envelope }
  [field: string]: unknown;
}

/** The activity's input. The ids choose the rollout stage (docs/flags.md); left out,
 *  `workflowId` and `executionId` are this workflow's id and run id. */
export interface CodeNodeInput {
  node: CodeNode;
  context: Record<string, unknown>;
  tenantId?: string;
  workflowId?: string;
  executionId?: string;
}

/** The result envelope (docs/contract.md): what `turnout run --json` prints. */
export interface Envelope {
  language: 'javascript' | 'python';
  output: unknown;
  stdout: string;
  stderr: string;
  logs: string[];
  metadata: {
    executionTime: number;
    backend: string;
    executionId: string;
    outputChannel: string;
    [key: string]: unknown;
  };
}

/** The error JSON each failure carries as its one detail (docs/errors.md). */
export interface TurnoutError {
  type: string; // CodeExecutionError, ValidationError, InfrastructureError, ...
  message: string;
  retryable: boolean;
  kind?: string; // a CodeExecutionError's kind: syntax, runtime, timeout, memory, ...
  [field: string]: unknown;
}

export type CodeNodeResult = Envelope | Record<string, Envelope>;

export type CodeNodeOutcome =
  | { ok: true; result: CodeNodeResult }
  | { ok: false; failureType: string; error: TurnoutError };

const { execute_code_node } = proxyActivities<{
  execute_code_node(input: CodeNodeInput): Promise<CodeNodeResult>;
}>({
  taskQueue: 'turnout-code-nodes',
  // More than the longest node timeout (5 minutes) plus getting a sandbox.
  startToCloseTimeout: '6 minutes',
  // The worker heartbeats every 0.5 s while the code runs: a stalled worker shows here.
  heartbeatTimeout: '10 seconds',
  // turnout marks what a retry cannot fix (the user's code, a bad input) non-retryable,
  // so only infrastructure failures are retried.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 5 },
});

/** Runs one code node. A failure a retry cannot fix comes back as a value. */
export async function runCodeNode(input: CodeNodeInput): Promise<CodeNodeOutcome> {
  try {
    return { ok: true, result: await execute_code_node(input) };
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      const failure = err.cause;
      if (failure.nonRetryable) {
        const error = failure.details?.[0] as TurnoutError;
        return { ok: false, failureType: failure.type ?? error.type, error };
      }
    }
    throw err; // retries exhausted, or cancelled: the workflow fails as it would anyway
  }
}
