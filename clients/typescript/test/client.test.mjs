// The TypeScript client against a live `turnout serve`, started by
// tests/plugins/serve/test_typescript.py, which passes its URL and token, and the cases to
// run; each case's outcome is written to TURNOUT_TS_RESULTS for the Python test to compare
// with the Python library's.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';

import { codeNodeExecutor } from '../dist/examples/worker-executor.js';
import {
  AuthenticationError,
  CodeExecutionError,
  InfrastructureError,
  TurnoutClient,
  TurnoutError,
  ValidationError,
} from '../dist/src/index.js';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (this test is run by test_typescript.py)`);
  return value;
}

const baseUrl = required('TURNOUT_SERVE_URL');
const token = required('TURNOUT_SERVE_TOKEN');
/** @type {{name: string, node: object, context: object, tenantId?: string}[]} */
const cases = JSON.parse(readFileSync(required('TURNOUT_TS_CASES'), 'utf8'));
const client = new TurnoutClient({ baseUrl, token });
const results = {};

after(() => writeFileSync(required('TURNOUT_TS_RESULTS'), JSON.stringify(results, null, 2)));

for (const { name, node, context, tenantId } of cases) {
  test(`case ${name}`, async () => {
    try {
      const { wire, envelope } = await client.execute(node, context, { tenantId });
      assert.equal(typeof envelope.metadata.backend, 'string');
      results[name] = { ok: true, wire };
    } catch (error) {
      assert.ok(error instanceof TurnoutError, String(error));
      results[name] = { ok: false, error: error.detail, class: error.constructor.name };
    }
  });
}

test('a user-code error is a CodeExecutionError with its kind and output', async () => {
  const node = { language: 'python', code: "print('before')\n1/0" };
  await assert.rejects(client.execute(node, {}), (error) => {
    assert.ok(error instanceof CodeExecutionError);
    assert.equal(error.kind, 'runtime');
    assert.equal(error.retryable, false);
    assert.equal(error.status, 200);
    assert.match(error.stdout, /before/);
    return true;
  });
});

test('an invalid node is a ValidationError naming the field', async () => {
  await assert.rejects(client.execute({ language: 'cobol', code: 'x' }, {}), (error) => {
    assert.ok(error instanceof ValidationError);
    assert.equal(error.field, 'language');
    assert.equal(error.status, 422);
    return true;
  });
});

test('a wrong token is an AuthenticationError', async () => {
  const stranger = new TurnoutClient({ baseUrl, token: 'not-a-token' });
  await assert.rejects(stranger.execute({ language: 'python', code: 'return 1' }, {}), (error) => {
    assert.ok(error instanceof AuthenticationError);
    assert.equal(error.status, 401);
    assert.equal(error.retryable, false);
    return true;
  });
});

test('an unreachable service is a retryable InfrastructureError', async () => {
  const nowhere = new TurnoutClient({ baseUrl: 'http://127.0.0.1:9', token });
  await assert.rejects(nowhere.execute({ language: 'python', code: 'return 1' }, {}), (error) => {
    assert.ok(error instanceof InfrastructureError);
    assert.equal(error.retryable, true);
    return true;
  });
});

test('the example executor replaces the legacy one with one call', async () => {
  const execute = codeNodeExecutor(client);
  const ids = { tenantId: 't-1', workflowId: 'wf-1', executionId: 'ex-1' };
  const wire = await execute(
    { language: 'javascript', code: 'return { doubled: n * 2 };', outputVariable: 'out' },
    { n: 21 },
    ids,
  );
  assert.deepEqual(wire.out.output, { doubled: 42 });
  const failed = await execute({ language: 'javascript', code: 'null.x' }, {}, ids);
  assert.equal(failed.error.kind, 'runtime');
});

test('aborting a request disconnects, and the service cancels the execution', async () => {
  const node = { language: 'python', code: 'import time\ntime.sleep(60)\nreturn 1', timeout: 120000 };
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 1000);
  await assert.rejects(client.execute(node, {}, { signal: controller.signal }), (error) => {
    assert.equal(error.name, 'AbortError');
    return true;
  });
});

test('explain and ready answer', async () => {
  assert.equal(await client.ready(), true);
  const decision = await client.explain({ tenantId: 'on-e2b' });
  assert.equal(decision.authoritative_backend, 'e2b');
});
