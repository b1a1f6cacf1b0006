// The Node side of the local E2B-compatible server's JavaScript/TypeScript kernel.
//
// Started by javascript.py as `node kernel.js`. It runs notebook cells the way E2B's
// JavaScript kernel does (a fork of ijavascript/nel on Node 20 whose cells are
// Babel-transformed): TypeScript types stripped, ESM `import` -> `require`,
// top-level `await`, the completion value awaited and rendered with util.inspect, errors
// reported as nel reports them. javascript.py documents the semantics; this file only
// implements them.
//
// Protocol: frames of a 4-byte big-endian length and a UTF-8 JSON object. The host writes
// commands on stdin ({op: "run"|"adopt", id, ...}); the kernel writes events on stdout,
// each carrying the command id as `cell` ({type: "ready"} first, then per command
// stdout/stderr/result/error events and finally {type: "done"}). Writes are synchronous,
// so every event is on the pipe before the next statement runs, even if the cell then
// calls process.exit. User output never reaches fd 1 or 2: process.stdout, process.stderr and
// the global console are replaced by streams that send events.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');
const stream = require('stream');
const util = require('util');
const vm = require('vm');
const Module = require('module');
const { Console } = require('console');
const { StringDecoder } = require('string_decoder');
const acorn = require('acorn');
const sucrase = require('sucrase');

// ---- channel --------------------------------------------------------------------------------

// Move the protocol pipe on `fd` to a new close-on-exec descriptor (libuv opens with
// O_CLOEXEC) and put /dev/null in its place, so the processes a cell starts neither write
// into the protocol nor hold it open after the kernel dies. Without /proc the pipe stays.
function detach(fd, flags) {
  let copy;
  try {
    copy = fs.openSync(`/proc/self/fd/${fd}`, flags);
  } catch (err) {
    return fd;
  }
  fs.closeSync(fd);
  const devnull = fs.openSync('/dev/null', flags); // the lowest free descriptor: `fd`
  if (devnull !== fd) fs.closeSync(devnull);
  return copy;
}

const commandFd = detach(0, fs.constants.O_RDONLY);
const eventFd = detach(1, fs.constants.O_WRONLY);
// Cells see the argv of `node --eval`, which is how nel runs E2B's cells.
process.argv = [process.execPath];
const exitNow = process.exit.bind(process);
const { stringify, parse } = JSON; // cells may replace the globals

function send(message) {
  const body = Buffer.from(stringify(message), 'utf8');
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  let offset = 0;
  while (offset < frame.length) {
    try {
      offset += fs.writeSync(eventFd, frame, offset);
    } catch (err) {
      if (err.code === 'EAGAIN') continue;
      exitNow(1); // the host is gone
    }
  }
}

// ---- user output ----------------------------------------------------------------------------

let currentCell = null;

function emit(event) {
  // Output while no cell runs (a timer of an earlier cell) is dropped, as in E2B.
  if (currentCell !== null) send(Object.assign({ cell: currentCell }, event));
}

function captureStream(name) {
  const decoder = new StringDecoder('utf8');
  const out = new stream.Writable({
    decodeStrings: false,
    write(chunk, encoding, callback) {
      const text = typeof chunk === 'string' && (encoding === 'utf8' || encoding === 'utf-8')
        ? chunk
        : decoder.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
      if (text) emit({ type: name, text });
      callback();
    },
  });
  out.isTTY = false;
  return out;
}

const stdout = captureStream('stdout');
const stderr = captureStream('stderr');
for (const [name, value] of [['stdout', stdout], ['stderr', stderr]]) {
  Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => value });
}
globalThis.console = new Console(stdout, stderr);

function describeUncaught(err) {
  try {
    if (err && typeof err.stack === 'string') return err.stack;
  } catch (ignored) { /* fall through */ }
  return 'Uncaught ' + util.inspect(err);
}

// An exception or unhandled rejection outside the awaited cell (a timer, a stray Promise)
// never kills the kernel: it is reported on stderr of whichever cell is running.
process.on('uncaughtException', (err) => {
  emit({ type: 'stderr', text: describeUncaught(err) + '\n' });
});

// ---- globals of `node --eval` ---------------------------------------------------------------

const requireCache = new Map();
function requireFor(cwd) {
  let found = requireCache.get(cwd);
  if (!found) {
    found = Module.createRequire(path.join(cwd, '[eval]'));
    requireCache.set(cwd, found);
  }
  return found;
}

// `require` resolves from the current working directory (its node_modules chain, then
// Node's global folders), whatever directory the cell has changed to.
function cellRequire(id) {
  return requireFor(process.cwd())(id);
}
cellRequire.resolve = (request, options) => requireFor(process.cwd()).resolve(request, options);
cellRequire.resolve.paths = (request) => requireFor(process.cwd()).resolve.paths(request);
cellRequire.cache = Module._cache;
cellRequire.extensions = Module._extensions;

const evalModule = new Module('[eval]');
evalModule.filename = path.join(process.cwd(), '[eval]');
evalModule.paths = Module._nodeModulePaths(process.cwd());
Object.assign(globalThis, {
  require: cellRequire,
  module: evalModule,
  exports: evalModule.exports,
  __filename: '[eval]',
  __dirname: '.',
});

// ---- cell transform -------------------------------------------------------------------------

const SUCRASE_OPTIONS = {
  transforms: ['typescript', 'imports'],
  keepUnusedImports: true, // like Babel's onlyRemoveTypeImports in E2B's kernel
  disableESTransforms: true,
  preserveDynamicImport: true,
};
const USE_STRICT = '"use strict";';

class CellSyntaxError extends Error {}
CellSyntaxError.prototype.name = 'SyntaxError';

function stripTypesAndImports(code) {
  let out;
  try {
    out = sucrase.transform(code, SUCRASE_OPTIONS).code;
  } catch (err) {
    const error = new CellSyntaxError(err.message);
    error.stack = `SyntaxError: ${err.message}`;
    throw error;
  }
  // The imports transform adds a strict-mode prologue; E2B's Babel config disables it
  // (strict mode would forbid assigning undeclared globals across cells).
  if (out.startsWith(USE_STRICT) && !/^\s*(['"])use strict\1/.test(code)) {
    out = out.slice(USE_STRICT.length);
  }
  return out;
}

const FUNCTIONS = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

function hasTopLevelAwait(node) {
  if (!node || typeof node.type !== 'string' || FUNCTIONS.has(node.type)) return false;
  if (node.type === 'AwaitExpression') return true;
  if (node.type === 'ForOfStatement' && node.await) return true;
  for (const key of Object.keys(node)) {
    const value = node[key];
    if (Array.isArray(value)) {
      if (value.some(hasTopLevelAwait)) return true;
    } else if (value && typeof value === 'object' && hasTopLevelAwait(value)) {
      return true;
    }
  }
  return false;
}

function boundNames(pattern, names) {
  if (!pattern) return names;
  switch (pattern.type) {
    case 'Identifier': names.push(pattern.name); break;
    case 'ObjectPattern':
      for (const property of pattern.properties) {
        boundNames(property.type === 'RestElement' ? property.argument : property.value, names);
      }
      break;
    case 'ArrayPattern': pattern.elements.forEach((e) => boundNames(e, names)); break;
    case 'RestElement': boundNames(pattern.argument, names); break;
    case 'AssignmentPattern': boundNames(pattern.left, names); break;
    default: break;
  }
  return names;
}

// Top-level await, as E2B's Babel plugin does it: statements from the first one containing
// a top-level await on run inside an async arrow function whose Promise is the cell's
// completion value; their declarations are hoisted in front of it (let/const/class as
// `let`, var as `var`) and become assignments, so later cells still see them; function
// declarations are also published as globals; the last expression statement is returned
// unless it is an assignment. Text is only inserted, never moved, so line numbers in
// stack traces stay the user's; inserted statements start with `;` because the statement
// before may rely on automatic semicolon insertion.
function wrapTopLevelAwait(code) {
  let program;
  try {
    program = acorn.parse(code, {
      ecmaVersion: 'latest',
      sourceType: 'script',
      allowAwaitOutsideFunction: true,
      allowHashBang: true,
    });
  } catch (err) {
    return code; // let V8 report the syntax error
  }
  const body = program.body;
  const first = body.findIndex(hasTopLevelAwait);
  if (first === -1) return code;
  const edits = []; // [from, to, text, order]: replace code[from, to) with text
  const lets = new Set();
  const vars = new Set();
  const functions = [];
  for (let i = first; i < body.length; i++) {
    const statement = body[i];
    if (statement.type === 'VariableDeclaration') {
      const decls = statement.declarations;
      edits.push([statement.start, decls[0].start, ';(', 0]);
      for (const decl of decls) {
        const names = statement.kind === 'var' ? vars : lets;
        for (const name of boundNames(decl.id, [])) names.add(name);
        if (!decl.init && statement.kind !== 'var') {
          edits.push([decl.end, decl.end, ' = undefined', 0]);
        }
      }
      const end = decls[decls.length - 1].end;
      edits.push([end, end, code[statement.end - 1] === ';' ? ')' : ');', 0]);
    } else if (statement.type === 'ClassDeclaration') {
      lets.add(statement.id.name);
      edits.push([statement.start, statement.start, `;${statement.id.name} = `, 0]);
      edits.push([statement.end, statement.end, ';', 0]);
    } else if (statement.type === 'FunctionDeclaration') {
      functions.push(statement.id.name);
    }
  }
  const last = body[body.length - 1];
  if (last.type === 'ExpressionStatement' && last.expression.type !== 'AssignmentExpression') {
    edits.push([last.start, last.start, 'return (', 0]);
    edits.push([last.expression.end, last.expression.end, ')', 0]);
  }
  let head = ';'; // the statement before may lack its semicolon
  if (lets.size) head += `let ${[...lets].join(', ')}; `;
  if (vars.size) head += `var ${[...vars].join(', ')}; `;
  head += '(async () => {';
  for (const name of functions) head += ` globalThis[${stringify(name)}] = ${name};`;
  const start = body[first].start;
  edits.push([start, start, head, -1]);
  edits.push([code.length, code.length, '\n})()', 1]);
  edits.sort((a, b) => a[0] - b[0] || a[3] - b[3]); // stable: ties keep their order
  let out = '';
  let cursor = 0;
  for (const [from, to, text] of edits) {
    out += code.slice(cursor, from) + text;
    cursor = Math.max(cursor, to);
  }
  return out + code.slice(cursor);
}

function transform(code) {
  const stripped = stripTypesAndImports(code);
  return /\bawait\b/.test(stripped) ? wrapTopLevelAwait(stripped) : stripped;
}

// ---- running cells --------------------------------------------------------------------------

// nel's formatError: a thrown non-Error has name `typeof value` and value util.inspect(value).
function formatError(err) {
  const field = (key) => {
    try {
      return err ? err[key] : undefined;
    } catch (ignored) {
      return undefined;
    }
  };
  const name = field('name');
  const message = field('message');
  const stack = field('stack');
  return {
    type: 'error',
    name: name ? String(name) : typeof err,
    value: message ? String(message) : util.inspect(err),
    traceback: stack ? String(stack).split('\n').join('') : '',
  };
}

function applyEnv(env) {
  const saved = [];
  for (const [key, value] of Object.entries(env || {})) {
    saved.push([key, key in process.env ? process.env[key] : undefined]);
    process.env[key] = value;
  }
  return saved;
}

function restoreEnv(saved) {
  for (const [key, value] of saved.reverse()) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

const RUN_OPTIONS = { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER };

async function run(message) {
  const saved = applyEnv(message.env);
  try {
    let value;
    try {
      value = await vm.runInThisContext(transform(message.code), RUN_OPTIONS);
    } catch (err) {
      emit(formatError(err));
      return;
    }
    if (value === undefined) return;
    let text;
    try {
      text = util.inspect(value);
    } catch (ignored) {
      return; // nel's mimer drops a text it cannot render
    }
    emit({ type: 'result', text });
  } finally {
    restoreEnv(saved);
  }
}

// Adopted by a sandbox: give up root for the sandbox's user first (when the server says
// so), so that the working directory is entered with the user's own permissions.
function adopt(message) {
  if (typeof message.uid === 'number') {
    process.setgroups([]);
    process.setgid(message.gid);
    process.setuid(message.uid);
  }
  process.chdir(message.cwd);
  Object.assign(process.env, message.env);
}

async function handle(message) {
  currentCell = message.id;
  try {
    if (message.op === 'run') await run(message);
    else if (message.op === 'adopt') adopt(message);
    else throw new Error(`unknown command ${stringify(message.op)}`);
  } catch (err) {
    emit(formatError(err));
  } finally {
    emit({ type: 'done' });
    currentCell = null;
  }
}

let queue = Promise.resolve();
let pending = Buffer.alloc(0);
const commands = new net.Socket({ fd: commandFd, readable: true, writable: false });
commands.on('data', (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (pending.length >= 4) {
    const size = pending.readUInt32BE(0);
    if (pending.length < 4 + size) break;
    const message = parse(pending.subarray(4, 4 + size).toString('utf8'));
    pending = pending.subarray(4 + size);
    queue = queue.then(() => handle(message));
  }
});
commands.on('end', () => exitNow(0));
commands.on('error', () => exitNow(1));

send({ type: 'ready', pid: process.pid });
