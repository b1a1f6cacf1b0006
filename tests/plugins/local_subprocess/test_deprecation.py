from __future__ import annotations

import warnings
from typing import Literal

import pytest
from turnout_local_subprocess import LocalSubprocessBackend
from turnout_local_subprocess.deprecation import (
    LegacyBackendDeprecationWarning,
    announce_legacy_load,
    refuse_if_disallowed,
)

from turnout.backend import BackendSettings
from turnout.errors import ConfigurationError
from turnout.logging import capture_logs
from turnout.registry import BackendRegistry

from .support import PYTHON


class TestRefuseIfDisallowed:
    """The legacy flag decides whether the backend may load."""

    def test_allowed_passes(self):
        """With legacy_allowed true nothing is raised."""
        refuse_if_disallowed(BackendSettings(environment="development", legacy_allowed=True))

    def test_disallowed_explains_the_way_out(self):
        """The refusal names the environment, the flag file and another backend."""
        settings = BackendSettings(environment="staging", legacy_allowed=False)
        with pytest.raises(ConfigurationError) as caught:
            refuse_if_disallowed(settings)
        assert caught.value.retryable is False
        assert "disabled for environment 'staging' by feature_flags.toml" in caught.value.message


class TestAnnounceLegacyLoad:
    """Loading is announced both as a Python warning and as a log event."""

    def test_warning_and_event(self):
        """One LegacyBackendDeprecationWarning and one `legacy_backend_loaded` warning event."""
        with (
            capture_logs() as logs,
            pytest.warns(LegacyBackendDeprecationWarning, match="'qa'"),
        ):
            announce_legacy_load(
                BackendSettings(environment="qa"),
                memory_enforcement="rlimit",
                process_isolation="namespace",
                code_user="65000:65000",
            )
        assert logs == [
            {
                "event": "legacy_backend_loaded",
                "log_level": "warning",
                "backend": "local-subprocess",
                "environment": "qa",
                "isolation": "process",
                "process_isolation": "namespace",
                "memory_enforcement": "rlimit",
                "code_user": "65000:65000",
            }
        ]

    def test_warning_points_at_the_caller_outside_turnout(self):
        """Created through turnout's registry, the warning is attributed to this file (the
        first frame outside turnout), not to turnout/registry.py or the backend."""
        registry = BackendRegistry()
        registry.add(LocalSubprocessBackend)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            registry.create("local-subprocess", BackendSettings(options={"python": PYTHON}))
        (warning,) = [w for w in caught if issubclass(w.category, LegacyBackendDeprecationWarning)]
        assert warning.filename == __file__

    def test_warning_is_shown_by_default_to_a_script(self):
        """Under Python's default warning filters (DeprecationWarning shown for __main__
        only), a script that loads the backend through the registry sees the warning."""
        script = (
            "registry = BackendRegistry()\n"
            "registry.add(LocalSubprocessBackend)\n"
            "registry.create('local-subprocess', BackendSettings(options=OPTIONS))\n"
        )
        namespace = {
            "__name__": "__main__",
            "BackendRegistry": BackendRegistry,
            "LocalSubprocessBackend": LocalSubprocessBackend,
            "BackendSettings": BackendSettings,
            "OPTIONS": {"python": PYTHON},
        }
        with warnings.catch_warnings(record=True) as caught:
            warnings.resetwarnings()
            for action, category, module in PYTHON_DEFAULT_FILTERS:
                warnings.filterwarnings(action, category=category, module=module, append=True)
            exec(compile(script, "<script>", "exec"), namespace)
        shown = [w for w in caught if issubclass(w.category, LegacyBackendDeprecationWarning)]
        assert [(w.filename, w.lineno) for w in shown] == [("<script>", 3)]


# Python 3.11's default filters without -W or PYTHONWARNINGS (the `warnings` docs,
# "Default Warning Filter"), in order.
PYTHON_DEFAULT_FILTERS: list[tuple[Literal["default", "ignore"], type[Warning], str]] = [
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
]
