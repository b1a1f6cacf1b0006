"""Reports people look at: each command's data rendered as one self-contained HTML page.

html/       the pages (`turnout conformance --report`, `rollout report --html`, `bench
            --html`, `chaos --html`), a shared page template and a chart helper
timeline.py per-hour counters, latency and cost per backend of a rollout log, which the
            rollout page charts and the text report does not need
"""
