from __future__ import annotations

import pytest
import structlog
from turnout_local_subprocess.deprecation import (
    LegacyBackendDeprecationWarning,
    announce_legacy_load,
    refuse_if_disallowed,
)

from turnout.backend import BackendSettings
from turnout.errors import ConfigurationError


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
            structlog.testing.capture_logs() as logs,
            pytest.warns(LegacyBackendDeprecationWarning, match="'qa'"),
        ):
            announce_legacy_load(BackendSettings(environment="qa"), "rlimit")
        assert logs == [
            {
                "event": "legacy_backend_loaded",
                "log_level": "warning",
                "backend": "local-subprocess",
                "environment": "qa",
                "isolation": "process",
                "memory_enforcement": "rlimit",
            }
        ]
