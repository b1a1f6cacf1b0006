"""The E2B backend's settings: options from feature_flags.toml, secrets from the environment.

The API key is only ever read from `E2B_API_KEY` (never from the flag file, never logged).
URLs may come from either place; the flag file wins, so an environment can be pinned to a
server. Every option has a default suited to E2B's base tier.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from turnout.backend import parse_backend_options
from turnout_e2b.packages import TEMPLATE_JAVASCRIPT_PACKAGES, TEMPLATE_PYTHON_PACKAGES

__all__ = ["BACKEND_ID", "E2BOptions", "parse_options"]

BACKEND_ID = "e2b"
MIB = 1024 * 1024


class E2BOptions(BaseModel):
    """Options of the e2b backend (table `[environments.<env>.backends.e2b]`)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    api_url: str | None = Field(default=None, description="control plane URL (E2B_API_URL)")
    sandbox_url: str | None = Field(default=None, description="sandbox URL (E2B_SANDBOX_URL)")
    domain: str | None = Field(default=None, description="E2B domain (E2B_DOMAIN)")
    template: str = Field(default="code-interpreter-v1", min_length=1)
    lifetime_margin_s: int = Field(
        default=30, ge=5, le=3600, description="sandbox lifetime beyond the node timeout"
    )
    max_concurrency: int = Field(
        default=20, ge=1, le=10_000, description="live sandboxes per process (E2B base tier: 20)"
    )
    create_attempts: int = Field(default=4, ge=1, le=20)
    create_budget_s: float = Field(default=20.0, gt=0, le=600)
    create_backoff_s: float = Field(default=0.2, gt=0, le=30)
    request_timeout_s: float = Field(default=30.0, gt=0, le=600)
    kill_timeout_s: float = Field(default=10.0, gt=0, le=120)
    output_cap_bytes: int = Field(default=MIB, ge=1024)
    max_result_bytes: int = Field(default=64 * MIB, ge=1024)
    embedded_server: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="auto: start a local E2B-compatible server in development and test "
        "when no E2B_API_KEY is set",
    )
    embedded_create_delay_ms: int = Field(default=0, ge=0, le=60_000)
    # Warm pool (see turnout_e2b.pool and docs/backends/e2b.md#warm-pool). Off by default:
    # every pooled sandbox is billed while it waits.
    pool_size: int = Field(
        default=0, ge=0, le=1000, description="sandboxes kept created ahead (0: no pool)"
    )
    pool_max_age_s: float = Field(
        default=600.0, ge=1, le=3600, description="a pooled sandbox older than this is replaced"
    )
    pool_refill_backoff_s: float = Field(
        default=0.5, gt=0, le=60, description="first wait after a failed refill; doubles"
    )
    pool_refill_backoff_max_s: float = Field(
        default=30.0, gt=0, le=600, description="longest wait between failed refills"
    )
    # Cost accounting (see turnout_e2b.cost). Defaults: E2B's published usage rates and its
    # default sandbox size (2 vCPU, 512 MiB).
    price_per_vcpu_hour: float = Field(default=0.0504, ge=0, le=1000)
    price_per_gib_hour: float = Field(default=0.0162, ge=0, le=1000)
    vcpus: float = Field(default=2.0, gt=0, le=1024)
    memory_gib: float = Field(default=0.5, ge=0, le=4096)
    # What the template lets user code import (see turnout_e2b.packages and
    # docs/backends/e2b.md#packages). Defaults: E2B's code-interpreter-v1 template.
    python_packages: list[str] = Field(
        default_factory=lambda: list(TEMPLATE_PYTHON_PACKAGES),
        description="import names the template installs beyond the standard library",
    )
    javascript_packages: list[str] = Field(
        default_factory=lambda: list(TEMPLATE_JAVASCRIPT_PACKAGES),
        description="npm packages the template installs where `require` finds them",
    )

    @property
    def api_url_or_env(self) -> str | None:
        return self.api_url or os.environ.get("E2B_API_URL") or None

    @property
    def sandbox_url_or_env(self) -> str | None:
        return self.sandbox_url or os.environ.get("E2B_SANDBOX_URL") or None

    @property
    def domain_or_env(self) -> str | None:
        return self.domain or os.environ.get("E2B_DOMAIN") or None


def parse_options(raw: Mapping[str, Any]) -> E2BOptions:
    """Validate the options table, naming every offending option in one error."""
    return parse_backend_options(BACKEND_ID, E2BOptions, raw)
