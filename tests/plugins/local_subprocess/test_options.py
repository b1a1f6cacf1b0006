from __future__ import annotations

import pytest
from turnout_local_subprocess.options import MIB, parse_options

from turnout.errors import ConfigurationError


class TestParseOptions:
    """The options table is validated strictly, naming what is wrong."""

    def test_defaults(self):
        """An empty table gives the documented defaults."""
        options = parse_options({})
        assert (options.memory_mb, options.pids_max, options.max_concurrency) == (512, 256, 8)
        assert (options.output_cap_bytes, options.max_result_bytes) == (MIB, 64 * MIB)
        assert (options.python, options.node, options.use_cgroups) == (None, None, "auto")
        assert (options.isolate_processes, options.undumpable_worker) == ("auto", True)
        assert (options.drop_privileges, options.sandbox_uid, options.sandbox_gid) == (
            "auto",
            65_000,
            65_000,
        )

    def test_unknown_option_is_named(self):
        """A misspelt option is refused, named, and the option it most likely meant given."""
        with pytest.raises(ConfigurationError) as caught:
            parse_options({"memroy_mb": 256})
        assert "memroy_mb: unknown key (did you mean 'memory_mb'?)" in caught.value.message

    def test_wrong_type_is_refused(self):
        """A string where a number belongs is refused rather than coerced."""
        with pytest.raises(ConfigurationError, match="memory_mb: must be"):
            parse_options({"memory_mb": "512"})

    def test_out_of_range_is_refused(self):
        """A concurrency of zero is refused."""
        with pytest.raises(ConfigurationError, match="max_concurrency: must be"):
            parse_options({"max_concurrency": 0})

    @pytest.mark.parametrize("value", ["auto", True, False])
    def test_use_cgroups_values(self, value: object):
        """use_cgroups accepts "auto", true and false."""
        assert parse_options({"use_cgroups": value}).use_cgroups == value

    def test_use_cgroups_rejects_other_strings(self):
        """use_cgroups = "yes" is refused instead of being read as true."""
        with pytest.raises(ConfigurationError, match="use_cgroups: must be"):
            parse_options({"use_cgroups": "yes"})

    @pytest.mark.parametrize("value", ["auto", True, False])
    def test_isolate_processes_values(self, value: object):
        """isolate_processes accepts "auto", true and false."""
        assert parse_options({"isolate_processes": value}).isolate_processes == value

    def test_isolate_processes_rejects_other_strings(self):
        """isolate_processes = "on" is refused instead of being read as true."""
        with pytest.raises(ConfigurationError, match="isolate_processes: must be"):
            parse_options({"isolate_processes": "on"})

    def test_undumpable_worker_is_a_bool(self):
        """undumpable_worker takes booleans only."""
        assert parse_options({"undumpable_worker": False}).undumpable_worker is False
        with pytest.raises(ConfigurationError, match="undumpable_worker: must be"):
            parse_options({"undumpable_worker": "no"})

    @pytest.mark.parametrize("value", ["auto", True, False])
    def test_drop_privileges_values(self, value: object):
        """drop_privileges accepts "auto", true and false."""
        assert parse_options({"drop_privileges": value}).drop_privileges == value

    @pytest.mark.parametrize("name", ["sandbox_uid", "sandbox_gid"])
    @pytest.mark.parametrize("value", [0, -1, 2**32 - 1])
    def test_sandbox_ids_are_never_root_or_invalid(self, name: str, value: int):
        """uid/gid 0 (root), negative ids and (uid_t) -1 are refused."""
        with pytest.raises(ConfigurationError, match=f"{name}: "):
            parse_options({name: value})
