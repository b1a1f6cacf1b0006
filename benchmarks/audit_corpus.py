"""How long `turnout audit` takes over a directory of a few hundred realistic nodes.

Generates N node configs (default 300) in a temporary directory, one directory per
workflow, shaped like the platform's stored nodes: JavaScript and Python in about the
proportion real workflows have them, short transforms and longer nodes with helper
functions, some with the problems the audit looks for (a timeout in seconds, `variables`,
`require('lodash')`, `Date.now()` in the output, `process.env`, `fetch`). Then runs
`turnout audit DIR --json` as a user would, in a child process, and prints the wall time,
the nodes per second and the totals. Nothing is executed (no `--run`).

    .venv/bin/python benchmarks/audit_corpus.py [--nodes 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JAVASCRIPT = [
    "const r = JSON.parse(inputs.classifier.text);\nreturn { label: r.label, score: r.score };",
    "const sum = numbers.reduce((a, b) => a + b, 0);\n"
    "return { sum, average: sum / numbers.length };",
    "const content = inputs.file.content;\nconst chunks = [];\n"
    "for (let i = 0; i < content.length; i += 1000) chunks.push(content.slice(i, i + 1000));\n"
    "return { chunkCount: chunks.length };",
    "return { processed: records.length, processedAt: new Date().toISOString() };",
    "const id = 'saga_' + Date.now();\nreturn { id, steps: inputs.steps.length };",
    "const retries = variables.maxRetries || 3;\nreturn { retries };",
    "const _ = require('lodash');\nreturn _.chunk(ids, 2);",
    "const token = process.env.SLACK_TOKEN;\n"
    "const res = await fetch('https://slack.example.com/api', { headers: { token } });\n"
    "return await res.json();",
    "console.log(`syncing ${contacts.length} contacts`);\nreturn contacts.map((c) => c.email);",
]
PYTHON = [
    "result = sum(numbers) / len(numbers)",
    "rows = inputs['data']\nclean = [r.strip().lower() for r in rows if r.strip()]\n"
    "return {'processed': clean, 'count': len(clean)}",
    "import datetime\nreturn {'generatedAt': datetime.datetime.now().isoformat(), 'week': week}",
    "import pandas as pd\nreturn pd.DataFrame(rows).describe().to_dict()",
    "count = shared.get('runs', 0) + 1\nresult = count",
    "import os\nkey = os.environ['OPENAI_API_KEY']\nresult = bool(key)",
]


def _long_javascript(rng: random.Random) -> str:
    """A longer node: a dozen helper functions, then a pipeline over records."""
    helpers = [
        f"function step{i}(record) {{\n  const value = record.v{i} ?? {i};\n"
        f"  if (value > {rng.randint(1, 99)}) {{ return {{ ...record, flag{i}: true }}; }}\n"
        f"  return {{ ...record, score: (record.score || 0) + value * {i} }};\n}}"
        for i in range(12)
    ]
    pipeline = " ".join(f".map(step{i})" for i in range(12))
    return "\n".join(helpers) + f"\nconst out = records{pipeline};\nreturn {{ out }};"


def _long_python(rng: random.Random) -> str:
    helpers = [
        f"def step{i}(record):\n    value = record.get('v{i}', {i})\n"
        f"    if value > {rng.randint(1, 99)}:\n        return {{**record, 'flag{i}': True}}\n"
        f"    return {{**record, 'score': record.get('score', 0) + value * {i}}}\n"
        for i in range(12)
    ]
    calls = "\n".join(f"rows = [step{i}(r) for r in rows]" for i in range(12))
    return "\n".join(helpers) + f"\nrows = list(records)\n{calls}\nreturn {{'rows': rows}}"


def generate(directory: Path, count: int, seed: int = 0) -> None:
    """Write `count` node configs under `directory`, ten per workflow directory."""
    rng = random.Random(seed)
    for index in range(count):
        python = rng.random() < 0.25
        if rng.random() < 0.15:
            code = _long_python(rng) if python else _long_javascript(rng)
        else:
            code = rng.choice(PYTHON if python else JAVASCRIPT)
        config: dict[str, object] = {
            "language": "python" if python else "javascript",
            "code": code,
            "timeout": rng.choice([30, 30000, 10000]),
        }
        if rng.random() < 0.3:
            config["memoryLimit"] = 256
        workflow = directory / f"workflow-{index // 10:03d}"
        workflow.mkdir(parents=True, exist_ok=True)
        (workflow / f"node-{index:04d}.json").write_text(json.dumps(config), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    turnout = Path(sys.executable).with_name("turnout")
    with tempfile.TemporaryDirectory(prefix="turnout-audit-bench-") as scratch:
        generate(Path(scratch), arguments.nodes)
        times = []
        report: dict[str, object] = {}
        for _ in range(arguments.repeat):
            started = time.perf_counter()
            completed = subprocess.run(
                [str(turnout), "audit", scratch, "--env", "test", "--json"],
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - started)
            report = json.loads(completed.stdout)
    median = statistics.median(times)
    totals = report["totals"]
    assert isinstance(totals, dict)
    print(
        f"{arguments.nodes} nodes: median {median:.2f} s over {arguments.repeat} runs "
        f"(min {min(times):.2f} s, max {max(times):.2f} s), "
        f"{arguments.nodes / median:.0f} nodes/s including start-up"
    )
    print(
        f"  {totals['ready']} ready, {totals['attention']} attention, {totals['blocked']} blocked"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
