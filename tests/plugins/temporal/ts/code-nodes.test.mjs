// The TypeScript side of the cross-language test (run by test_typescript.py): a TypeScript
// worker runs the workflow of workflows.ts, which schedules `execute_code_node` on the
// Python worker's task queue. Each case's outcome is checked here against its expectation
// and written to TURNOUT_TS_RESULTS, where the Python test compares it with the library's.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (this test is run by test_typescript.py)`);
  return value;
}

const address = required('TEMPORAL_ADDRESS');
/** @type {{name: string, input: object, expect: {output?: unknown, failureType?: string}}[]} */
const cases = JSON.parse(readFileSync(required('TURNOUT_TS_CASES'), 'utf8'));
const TASK_QUEUE = 'turnout-ts-workflows';
const results = {};

Runtime.install({ logger: new DefaultLogger('ERROR') });
let nativeConnection, worker, running, connection, client;

before(async () => {
  nativeConnection = await NativeConnection.connect({ address });
  worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
  });
  running = worker.run();
  connection = await Connection.connect({ address });
  client = new Client({ connection });
});

after(async () => {
  writeFileSync(required('TURNOUT_TS_RESULTS'), JSON.stringify(results, null, 2));
  worker?.shutdown();
  await running;
  await connection?.close();
  await nativeConnection?.close();
});

/** The envelope inside `{[outputVariable]: envelope}`, or the envelope itself. */
function envelopeOf(result) {
  const keys = Object.keys(result);
  return keys.length === 1 && !('metadata' in result) ? result[keys[0]] : result;
}

for (const { name, input, expect } of cases) {
  test(name, async () => {
    const outcome = await client.workflow.execute('runCodeNode', {
      taskQueue: TASK_QUEUE,
      workflowId: `turnout-ts-${name}-${Date.now()}`,
      args: [input],
    });
    results[name] = outcome;
    if ('failureType' in expect) {
      assert.equal(outcome.ok, false, JSON.stringify(outcome));
      assert.equal(outcome.failureType, expect.failureType);
      assert.equal(outcome.error.retryable, false);
    } else {
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.deepEqual(envelopeOf(outcome.result).output, expect.output);
    }
  });
}
