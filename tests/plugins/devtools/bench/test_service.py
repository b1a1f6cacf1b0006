"""The `service` section of `turnout bench` (`turnout_devtools.bench.service`): it measures a
real `turnout serve` (turnout-serve) against the library and reports every figure and
bound (values are data, never asserted: this is a smoke run with two iterations)."""

from __future__ import annotations

from turnout_devtools.bench import available_sections, run_bench


def test_the_service_section_is_one_of_the_bench_s_own() -> None:
    """`turnout bench --only service` is accepted: the section is the bench's own, and
    it asks for the local E2B-compatible server."""
    sections = available_sections()
    assert "service" in sections
    assert sections["service"][1] is True


def test_a_smoke_run_reports_every_figure_and_bound() -> None:
    """Two iterations give the latency on both backends, the throughput at concurrency 32
    and the service's memory growth, each judged by its bound (met or not)."""
    report = run_bench(only=["service"], iterations=2)
    section = report["sections"]["service"]
    assert section["skipped"] is None, section["skipped"]
    figures = section["figures"]
    for backend in ("local-subprocess", "e2b"):
        latency = figures[f"latency_{backend}"]
        assert latency["http_ms"]["n"] == latency["library_ms"]["n"] == 2
        assert latency["ratio_p50"] is not None
    throughput = figures["throughput_local-subprocess_concurrency_32"]
    assert throughput["concurrency"] == 32
    assert throughput["http_per_s"] > 0
    assert throughput["library_per_s"] > 0
    memory = figures["rss_local-subprocess"]
    assert memory["requests"] == 2
    assert memory["rss_growth_mib"] is not None
    names = {bound["name"] for bound in report["bounds"] if bound["section"] == "service"}
    assert names == {
        "service local-subprocess latency via HTTP / Client (p50 ratio)",
        "service e2b latency via HTTP / Client (p50 ratio)",
        "service local-subprocess throughput at concurrency 32 / Client",
        "service RSS growth over 2 requests (local-subprocess)",
    }
    assert not [note for note in report["notes"] if note.startswith("service")]
