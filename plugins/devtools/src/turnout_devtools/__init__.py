"""turnout's developer tools, a distribution of their own (`turnout-devtools`):

    bench/    `turnout bench`: overhead, the warm pool, concurrency, memory, start-up,
              and the service and Temporal surfaces, judged against their bounds
    chaos/    `turnout chaos`: faults under load against the local E2B-compatible server
    cli/      the two commands' parsers and handlers
    html/     their `--html FILE` pages
    plugin.py adds the commands to `turnout` (entry point `devtools` in the `turnout` group)

They start the local E2B-compatible server and measure the plugins, so a production
install (turnout and the backends it runs on) leaves them out. See docs/performance.md and
docs/reliability.md.
"""
