// A TypeScript worker's code-node executor, before and after turnout.
//
// Before: the worker spawned a child process per code node, wrote the context to its stdin,
// parsed its stdout, mapped its exit code to errors and killed it on timeout:
//
//   const child = spawn('node', ['run-code-node.js'], { timeout: node.timeout });
//   child.stdin.end(JSON.stringify({ code: node.code, context }));
//   ... (buffering, parsing, killing and error mapping)
//
// After: one call to `turnout serve`, which runs the node where the feature flags say (the
// legacy process or an E2B sandbox) and answers the same envelope either way.
import { CodeExecutionError, type CodeNode, type TurnoutClient } from '../src/index.js';

export interface Ids {
  tenantId: string;
  workflowId: string;
  executionId: string;
}

export function codeNodeExecutor(turnout: TurnoutClient) {
  return async function executeCodeNode(
    node: CodeNode,
    context: Record<string, unknown>,
    ids: Ids,
  ): Promise<Record<string, unknown>> {
    try {
      return (await turnout.execute(node, context, ids)).wire;
    } catch (error) {
      if (error instanceof CodeExecutionError) {
        // The user's code failed: show it in the workflow, never retry it.
        return { error: { kind: error.kind, message: error.message, stdout: error.stdout } };
      }
      throw error; // error.retryable and error.retryAfter drive the workflow's retries
    }
  };
}
