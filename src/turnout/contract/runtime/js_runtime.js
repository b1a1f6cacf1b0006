// turnout code-node runtime for JavaScript. Runs INSIDE the sandbox, on every backend, either
// as a script (`node program.js`) or as a notebook cell (E2B's ijavascript kernel, which
// Babel-transforms cells: keep this file plain ES2020). The host appends one launcher line
// calling __turnout_run(). Node built-ins only.
//
// What it does: read the payload (the prepared function body + inputs), set each input as a
// global (plus an `inputs` object), compile the body as an async function with vm.Script so
// errors carry the user's own line numbers, run it, pick the output by precedence
// (return > result > last bare expression > null), convert it as JSON.stringify does, and
// write one outcome object to the result file. Nothing here prints.

function __turnout_run(inlinePayload, payloadPath) {
  'use strict';
  // Inputs become globals, and the user's code may replace globals too: every global this
  // runtime uses is read here, before either happens, into a local of the same name, so an
  // input called JSON or Object shadows the global for the user's code, never for this code.
  // (tests/contract/runtime derives the globals used from this file and tries each one.)
  const globalObject = globalThis;
  const { Array, Buffer, Error, JSON, Number, Object, Promise, RangeError, Set, String,
    Symbol, clearInterval, process, setInterval } = globalObject;
  const fs = require('fs');
  const path = require('path');
  const vm = require('vm');
  const util = require('util');
  const userRequire = require;
  // Captured before user code runs, which may replace process.stdout.write.
  const outputStreams = [process.stdout, process.stderr];
  const writeOf = outputStreams.map((stream) => stream.write);
  const FILENAME = '<code>';
  const PREFIX = '(async function (require, __turnout__) {\n';

  const payloadText = inlinePayload !== null
    ? Buffer.from(inlinePayload, 'base64').toString('utf8')
    : fs.readFileSync(payloadPath, 'utf8');
  const payload = JSON.parse(payloadText);
  const inputs = payload.inputs;
  const resultPath = path.resolve(payload.resultPath);
  const scriptMode = typeof __filename === 'string' && process.argv.length > 1 &&
    path.resolve(process.argv[1]) === __filename;

  function writeOutcome(outcome) {
    let text;
    try {
      text = JSON.stringify(outcome);
    } catch (err) {
      text = JSON.stringify({ ok: false, kind: 'output_not_serializable', name: 'TypeError',
        message: 'the output could not be encoded as JSON: ' + err.message });
    }
    fs.mkdirSync(path.dirname(resultPath), { recursive: true });
    const partial = resultPath + '.partial';
    fs.writeFileSync(partial, text, 'utf8');
    fs.renameSync(partial, resultPath);
  }

  // ---- inputs as globals ------------------------------------------------------------------
  const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  const resultInput = { present: false, assigned: false, value: undefined };
  // What each global set here was before (no descriptor: it did not exist), for
  // restoreGlobals. An accessor with a setter (Node's `process`) keeps its value behind the
  // setter, so that value is read now and given back through the setter.
  const replaced = [];
  function setGlobal(key, install) {
    const descriptor = Object.getOwnPropertyDescriptor(globalObject, key);
    const value = descriptor && descriptor.get && descriptor.set ? globalObject[key] : undefined;
    replaced.push({ key, descriptor, value });
    try { install(); } catch (err) { /* read-only global: reachable as inputs.key only */ }
  }
  for (const key of Object.keys(inputs)) {
    if (!IDENTIFIER.test(key)) continue;
    if (key === 'result') {
      resultInput.present = true;
      resultInput.value = inputs[key];
      setGlobal(key, () => Object.defineProperty(globalObject, 'result', {
        configurable: true, enumerable: true,
        get() { control.readInput = true; return resultInput.value; },
        set(value) { resultInput.assigned = true; resultInput.value = value; },
      }));
      continue;
    }
    setGlobal(key, () => { globalObject[key] = inputs[key]; });
  }
  if (!Object.prototype.hasOwnProperty.call(inputs, 'inputs')) {
    setGlobal('inputs', () => { globalObject.inputs = inputs; });
  }

  // A notebook kernel outlives the code and runs its own JavaScript in the same global
  // scope: give it back every global the inputs replaced, once the outcome is written.
  function restoreGlobals() {
    for (let index = replaced.length - 1; index >= 0; index -= 1) {
      const { key, descriptor, value } = replaced[index];
      try {
        if (descriptor === undefined) {
          delete globalObject[key];
        } else {
          Object.defineProperty(globalObject, key, descriptor);
          if (descriptor.get && descriptor.set) globalObject[key] = value;
        }
      } catch (err) { /* the code made it non-configurable: it stays as the code left it */ }
    }
  }

  // ---- run ----------------------------------------------------------------------------------
  const UNSET = Symbol('unset');
  class Fallthrough {
    constructor(result, fromInput) { this.result = result; this.fromInput = fromInput; }
  }
  class ExitSignal { constructor(code) { this.code = code; } }
  // `readInput` tells whether the final read of `result` reached the input's accessor (the
  // code never declared its own `result`); then only an assignment makes it the output.
  const control = {
    last: undefined,
    readInput: false,
    end(value) { return new Fallthrough(value, this.readInput); },
    UNSET,
  };
  const body = payload.body + '\n;__turnout__.readInput = false; return __turnout__.end(' +
    'typeof result === "undefined" ? __turnout__.UNSET : result);\n})';

  function userLine(stack) {
    const match = /<code>:(\d+)(?::\d+)?/.exec(String(stack || ''));
    return match ? Number(match[1]) : null;
  }

  function userStack(stack) {
    // The message lines, then only the frames in the user's code (runtime frames are noise).
    return String(stack || '').split('\n')
      .filter((line) => !/^\s+at /.test(line) || line.indexOf(FILENAME) !== -1)
      .join('\n');
  }

  function errorOutcome(err) {
    if (err instanceof ExitSignal) {
      if (err.code === undefined || err.code === null || Number(err.code) === 0) {
        return { ok: true, channel: 'none', value: null };
      }
      return { ok: false, kind: 'runtime', name: 'ProcessExit',
        message: 'the code called process.exit with status ' + String(err.code),
        line: null, traceback: null };
    }
    if (err instanceof Error) {
      let kind = 'runtime';
      let message = err.message;
      if (err.code === 'MODULE_NOT_FOUND') {
        kind = 'import';
        message = message.split('\nRequire stack:')[0];
      }
      if (err instanceof RangeError && /allocation failed|Array buffer allocation/i.test(err.message)) {
        kind = 'memory';
      }
      const stack = userStack(err.stack).replace(/\nRequire stack:(\n- [^\n]*)*/, '');
      return { ok: false, kind, name: err.name, message, line: userLine(err.stack), traceback: stack };
    }
    return { ok: false, kind: 'runtime', name: 'ThrownValue',
      message: 'the code threw a non-Error value: ' + util.inspect(err, { depth: 4 }),
      line: null, traceback: null };
  }

  // ---- JSON conversion (JSON.stringify semantics; documented in docs/contract.md) --------------
  function findProblem(value, where, seen) {
    if (typeof value === 'bigint') return 'a BigInt at ' + where;
    if (value === null || typeof value !== 'object') return null;
    if (typeof value.toJSON === 'function') return null;
    if (seen.has(value)) return 'a circular reference at ' + where;
    seen.add(value);
    const keys = Array.isArray(value) ? value.keys() : Object.keys(value);
    for (const key of keys) {
      const child = Array.isArray(value) ? where + '[' + key + ']' : where + '[' + JSON.stringify(key) + ']';
      const problem = findProblem(value[key], child, seen);
      if (problem) return problem;
    }
    seen.delete(value);
    return null;
  }

  function convertOutcome(channel, value) {
    let text;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      const problem = findProblem(value, 'output', new Set()) || err.message;
      return { ok: false, kind: 'output_not_serializable', name: 'TypeError',
        message: 'cannot convert ' + problem + ' to JSON (return plain objects, arrays, ' +
          'strings, numbers, booleans, null or Dates)', line: null, traceback: null };
    }
    return { ok: true, channel, value: text === undefined ? null : JSON.parse(text) };
  }

  // ---- syntax errors ------------------------------------------------------------------------
  // V8 reports an error past the code's last line, in the text turnout adds after the code,
  // when the code ends too early (inside a statement, bracket, string, template or comment)
  // or closes one block more than it opens. Then its message would name turnout's text
  // (`Unexpected token ';'`): say instead what the user's code did, at the user's line.
  function syntaxOutcome(err) {
    const lines = payload.body.split('\n');
    const line = userLine(err.stack);
    if (line === null || line <= lines.length) {
      return { ok: false, kind: 'syntax', name: err.name, message: err.message, line,
        traceback: String(err.stack).split('\n    at ')[0] };
    }
    const found = endOfCode(lines);
    return { ok: false, kind: 'syntax', name: 'SyntaxError', message: found.message,
      line: found.line,
      traceback: FILENAME + ':' + found.line + '\n' + lines[found.line - 1] +
        '\n\nSyntaxError: ' + found.message };
  }

  function lastCodeLine(lines) {
    for (let index = lines.length - 1; index > 0; index -= 1) {
      const text = lines[index].trim();
      if (text !== '' && !text.startsWith('//')) return index + 1;
    }
    return 1;
  }

  function endOfCode(lines) {
    let line = lastCodeLine(lines);
    try {
      new vm.Script(PREFIX + payload.body + '\n)', { filename: FILENAME, lineOffset: -1 });
    } catch (err) {
      let text = lines[line - 1].trim();
      if (text.length > 60) text = text.slice(0, 57) + '...';
      return { line, message: 'Unexpected end of input: the code stops after line ' + line +
        ' (`' + text + '`) with a statement, bracket, string, template or comment still open' };
    }
    // With the parenthesis closed it compiles: the code closed turnout's function itself. The
    // code alone as a plain function body shows where (unless an await comes first).
    try {
      vm.compileFunction(payload.body, [], { filename: FILENAME });
    } catch (err) {
      if (err.message === "Unexpected token '}'") line = userLine(err.stack) || line;
    }
    return { line, message: "Unexpected token '}': the code closes a block it never opened" };
  }

  async function execute() {
    let fn;
    try {
      const script = new vm.Script(PREFIX + body, { filename: FILENAME, lineOffset: -1 });
      fn = script.runInThisContext();
    } catch (err) {
      return syntaxOutcome(err);
    }
    const realExit = process.exit;
    process.exit = function exit(code) { throw new ExitSignal(code === undefined ? process.exitCode : code); };
    // A script whose event loop empties exits even while an await is pending; a kernel does
    // not. Hold the loop open so a Promise that never settles is a timeout on every backend.
    const keepAlive = setInterval(() => {}, 1 << 30);
    let returned;
    try {
      returned = await fn(userRequire, control);
    } catch (err) {
      return errorOutcome(err);
    } finally {
      process.exit = realExit;
      clearInterval(keepAlive);
    }
    if (!(returned instanceof Fallthrough)) return convertOutcome('return', returned);
    const result = returned.result;
    const unassignedInput = returned.fromInput && !resultInput.assigned;
    if (result !== UNSET && result !== undefined && !unassignedInput) return convertOutcome('result', result);
    if (control.last !== undefined) return convertOutcome('last', control.last);
    return { ok: true, channel: 'none', value: null };
  }

  // In script mode the process ends with the code, but only once everything the code wrote
  // has reached the pipes: a write to a full pipe is queued, and exiting would drop it. An
  // empty write's callback runs after every write queued before it.
  function drained(stream, index) {
    return new Promise((resolve) => {
      try { writeOf[index].call(stream, '', () => resolve()); } catch (err) { resolve(); }
    });
  }

  return execute().then((outcome) => {
    writeOutcome(outcome);
    if (!scriptMode) {
      restoreGlobals();
      return undefined;
    }
    return Promise.all(outputStreams.map(drained)).then(() => process.exit(0));
  });
}
