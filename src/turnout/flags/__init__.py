"""feature_flags.toml: per environment, which backend answers, which one is compared, and how
the move from the legacy backend to the target proceeds (see docs/flags.md).

    stages.py     the five migration stages and bucketing key kinds
    schema.py     the file's shape and cross-key rules (pydantic, strict)
    loading.py    finding, reading and validating the file or data; located error messages
    options.py    backend options tables, checked against each backend's options model
    bucketing.py  Unleash's normalized murmur3 buckets and stage ranges
    ignore.py     shadow comparison ignore rules (JSON-path-like patterns)
    evaluate.py   the per-execution `Decision`; `FlagEvaluator.decide` never raises
    reload.py     hot reload that keeps the last good configuration
"""

from turnout.flags.bucketing import BUCKETS, bucket, stage_for_bucket, stage_ranges
from turnout.flags.evaluate import SHADOW_SAMPLE_SUFFIX, Decision, FlagEvaluator, decide
from turnout.flags.ignore import IgnoreRule, PathSegment, parse_ignore_rule
from turnout.flags.loading import (
    DEFAULT_ENVIRONMENT,
    DEFAULT_FLAGS_FILE,
    FLAGS_FILE_VARIABLE,
    MAPPING_SOURCE,
    FlagFileError,
    Problem,
    check_backend_options,
    current_environment,
    flags_from_mapping,
    load_flags,
    locate_flags_file,
    parse_flags,
    validate_flags,
)
from turnout.flags.options import OptionModels
from turnout.flags.reload import DEFAULT_CHECK_INTERVAL, FlagReloader
from turnout.flags.schema import (
    DEFAULT_LEGACY_BACKEND,
    DEFAULT_TARGET_BACKEND,
    ENVIRONMENT_VARIABLE,
    EnvironmentFlags,
    FlagFile,
    Overrides,
    Rollout,
)
from turnout.flags.stages import BUCKETING_KEYS, STAGES, BucketingKey, Stage

__all__ = [
    "BUCKETING_KEYS",
    "BUCKETS",
    "DEFAULT_CHECK_INTERVAL",
    "DEFAULT_ENVIRONMENT",
    "DEFAULT_FLAGS_FILE",
    "DEFAULT_LEGACY_BACKEND",
    "DEFAULT_TARGET_BACKEND",
    "ENVIRONMENT_VARIABLE",
    "FLAGS_FILE_VARIABLE",
    "MAPPING_SOURCE",
    "SHADOW_SAMPLE_SUFFIX",
    "STAGES",
    "BucketingKey",
    "Decision",
    "EnvironmentFlags",
    "FlagEvaluator",
    "FlagFile",
    "FlagFileError",
    "FlagReloader",
    "IgnoreRule",
    "OptionModels",
    "Overrides",
    "PathSegment",
    "Problem",
    "Rollout",
    "Stage",
    "bucket",
    "check_backend_options",
    "current_environment",
    "decide",
    "flags_from_mapping",
    "load_flags",
    "locate_flags_file",
    "parse_flags",
    "parse_ignore_rule",
    "stage_for_bucket",
    "stage_ranges",
    "validate_flags",
]
