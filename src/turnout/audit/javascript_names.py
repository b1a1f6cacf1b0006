"""Names the JavaScript analysis knows: what a node's code finds defined, and which modules
and calls mean network, files or values that change from run to run.

`GLOBALS` is what a code node sees without any input: the global object of Node 20 in
script mode (`Object.getOwnPropertyNames(globalThis)`), a few globals later Node versions
add, `require` (turnout's runtime passes it), `inputs` (the injected inputs object) and the
function's own `arguments`. A name outside it that the code reads is an input or an error.
"""

from __future__ import annotations

__all__ = [
    "FS_MODULES",
    "FS_WRITE_METHODS",
    "GLOBALS",
    "NETWORK_CONSTRUCTORS",
    "NETWORK_FUNCTIONS",
    "NETWORK_MODULES",
    "RANDOM_MODULES",
    "TYPESCRIPT_CONSTRUCTS",
]

GLOBALS: frozenset[str] = frozenset(
    {
        # Node 20, script mode
        "AbortController", "AbortSignal", "AggregateError", "Array", "ArrayBuffer", "Atomics",
        "BigInt", "BigInt64Array", "BigUint64Array", "Blob", "Boolean", "BroadcastChannel",
        "Buffer", "ByteLengthQueuingStrategy", "CompressionStream", "CountQueuingStrategy",
        "Crypto", "CryptoKey", "CustomEvent", "DOMException", "DataView", "Date",
        "DecompressionStream", "Error", "EvalError", "Event", "EventTarget", "File",
        "FinalizationRegistry", "Float32Array", "Float64Array", "FormData", "Function",
        "Headers", "Infinity", "Int16Array", "Int32Array", "Int8Array", "Intl", "JSON", "Map",
        "Math", "MessageChannel", "MessageEvent", "MessagePort", "NaN", "Number", "Object",
        "Performance", "PerformanceEntry", "PerformanceMark", "PerformanceMeasure",
        "PerformanceObserver", "PerformanceObserverEntryList", "PerformanceResourceTiming",
        "Promise", "Proxy", "RangeError", "ReadableByteStreamController", "ReadableStream",
        "ReadableStreamBYOBReader", "ReadableStreamBYOBRequest",
        "ReadableStreamDefaultController", "ReadableStreamDefaultReader", "ReferenceError",
        "Reflect", "RegExp", "Request", "Response", "Set", "SharedArrayBuffer", "String",
        "SubtleCrypto", "Symbol", "SyntaxError", "TextDecoder", "TextDecoderStream",
        "TextEncoder", "TextEncoderStream", "TransformStream",
        "TransformStreamDefaultController", "TypeError", "URIError", "URL", "URLSearchParams",
        "Uint16Array", "Uint32Array", "Uint8Array", "Uint8ClampedArray", "WeakMap", "WeakRef",
        "WeakSet", "WebAssembly", "WritableStream", "WritableStreamDefaultController",
        "WritableStreamDefaultWriter", "atob", "btoa", "clearImmediate", "clearInterval",
        "clearTimeout", "console", "crypto", "decodeURI", "decodeURIComponent", "encodeURI",
        "encodeURIComponent", "escape", "eval", "fetch", "global", "globalThis", "isFinite",
        "isNaN", "parseFloat", "parseInt", "performance", "process", "queueMicrotask",
        "setImmediate", "setInterval", "setTimeout", "structuredClone", "undefined",
        "unescape",
        # later Node versions
        "CloseEvent", "Float16Array", "Iterator", "Navigator", "WebSocket", "navigator",
        # turnout's runtime and the function body the code becomes
        "arguments", "inputs", "require",
    }
)  # fmt: skip

#: Modules whose use means talking to the network (or a networked service).
NETWORK_MODULES: frozenset[str] = frozenset(
    {
        "http", "https", "http2", "net", "tls", "dgram", "dns", "axios", "node-fetch", "got",
        "undici", "request", "superagent", "ws", "needle", "ky", "socket.io-client",
        "nodemailer", "pg", "mysql", "mysql2", "mongodb", "mongoose", "redis", "ioredis",
        "@aws-sdk/client-s3", "aws-sdk", "@google-cloud/storage", "openai",
    }
)  # fmt: skip
NETWORK_FUNCTIONS: frozenset[str] = frozenset({"fetch"})
NETWORK_CONSTRUCTORS: frozenset[str] = frozenset({"XMLHttpRequest", "WebSocket", "EventSource"})

FS_MODULES: frozenset[str] = frozenset(
    {"fs", "node:fs", "fs/promises", "node:fs/promises", "fs-extra", "graceful-fs"}
)
FS_WRITE_METHODS: frozenset[str] = frozenset(
    {
        "writeFile", "writeFileSync", "appendFile", "appendFileSync", "createWriteStream",
        "mkdir", "mkdirSync", "mkdtemp", "mkdtempSync", "rm", "rmSync", "rmdir", "rmdirSync",
        "unlink", "unlinkSync", "rename", "renameSync", "copyFile", "copyFileSync", "cp",
        "cpSync", "truncate", "truncateSync", "symlink", "symlinkSync", "chmod", "chmodSync",
        "outputFile", "outputJson", "writeJson", "writeJsonSync", "remove", "removeSync",
        "ensureDir", "ensureFile", "move", "copy",
    }
)  # fmt: skip

#: Packages whose every call makes a new random id.
RANDOM_MODULES: frozenset[str] = frozenset({"uuid", "nanoid", "shortid", "cuid", "ulid"})

#: TypeScript-only syntax, as the TypeScript grammar names it, and how a report says it.
TYPESCRIPT_CONSTRUCTS: dict[str, str] = {
    "type_annotation": "a type annotation",
    "interface_declaration": "an interface",
    "type_alias_declaration": "a type alias",
    "as_expression": "an `as` cast",
    "satisfies_expression": "a `satisfies` check",
    "non_null_expression": "a non-null assertion `!`",
    "type_arguments": "type arguments `<...>`",
    "type_parameters": "type parameters `<...>`",
    "enum_declaration": "an enum",
    "abstract_class_declaration": "an abstract class",
    "accessibility_modifier": "an access modifier",
    "optional_parameter": "an optional parameter `?:`",
    "ambient_declaration": "a `declare` statement",
    "implements_clause": "an `implements` clause",
    "internal_module": "a namespace",
}
