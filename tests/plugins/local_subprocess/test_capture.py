from __future__ import annotations

from turnout_local_subprocess.capture import TAIL_BYTES, CappedSink


class TestCappedSink:
    """One pipe's bytes: kept up to the cap, the rest counted and dropped."""

    async def test_under_the_cap_is_kept_whole(self):
        """Chunks under the cap are concatenated unchanged and not marked."""
        sink = CappedSink("stdout", 100)
        sink.data_received(b"hello ")
        sink.data_received(b"world")
        assert (sink.text(), sink.truncated) == ("hello world", False)

    async def test_exactly_the_cap_is_not_truncated(self):
        """Output exactly as long as the cap is complete, so it carries no marker."""
        sink = CappedSink("stdout", 4)
        sink.data_received(b"abcd")
        assert (sink.text(), sink.truncated) == ("abcd", False)

    async def test_past_the_cap_is_dropped_and_marked(self):
        """Bytes past the cap are dropped, counted, and a marker line names the stream."""
        sink = CappedSink("stderr", 4)
        sink.data_received(b"abc")
        sink.data_received(b"defgh")
        assert sink.truncated is True
        assert sink.total == 8
        assert sink.text() == "abcd\n[turnout: stderr truncated at 4 bytes]"

    async def test_split_character_is_dropped_at_the_cut(self):
        """A multi-byte character cut by the cap is dropped rather than shown as U+FFFD."""
        sink = CappedSink("stdout", 4)
        sink.data_received("abc✓".encode())
        assert sink.text() == "abc\n[turnout: stdout truncated at 4 bytes]"

    async def test_tail_survives_the_cap(self):
        """The last bytes are kept apart, so a message at the very end is still visible."""
        sink = CappedSink("stderr", 4)
        sink.data_received(b"x" * 10_000)
        sink.data_received(b"JavaScript heap out of memory")
        assert sink.tail_text().endswith("JavaScript heap out of memory")
        assert len(sink.tail) == TAIL_BYTES

    async def test_closed_resolves_on_connection_lost(self):
        """`closed` completes when the pipe reaches end of file, once."""
        sink = CappedSink("stdout", 4)
        sink.connection_lost(None)
        sink.connection_lost(None)
        assert sink.closed.done()
