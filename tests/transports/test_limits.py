"""ServerLimits: every field is checked by type and range when the limits are built."""

from __future__ import annotations

import math

import pytest

from otwire.errors import InvalidArgument, InvalidArgumentType
from otwire.transports.limits import ServerLimits


def test_defaults_are_valid() -> None:
    limits = ServerLimits()
    assert limits.max_connections == 1000 and limits.idle_timeout is None


@pytest.mark.parametrize(
    "field", ["max_connections", "max_per_address", "handshake_timeout", "frame_timeout", "max_output_bytes"]
)
@pytest.mark.parametrize("value", [True, False, "10", None, 1j])
def test_wrong_types_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidArgumentType, match=field):
        ServerLimits(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["handshake_timeout", "idle_timeout", "frame_timeout"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 0, -1.0])
def test_times_must_be_positive_and_finite(field: str, value: float) -> None:
    with pytest.raises(InvalidArgument, match=field):
        ServerLimits(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_connections": 0}, InvalidArgument),
        ({"max_per_address": -1}, InvalidArgument),
        ({"max_connections": 2.0}, InvalidArgumentType),
        ({"max_output_bytes": 1024}, InvalidArgument),
        ({"memory_budget": 64 * 1024}, InvalidArgument),  # below max_output_bytes
        ({"idle_timeout": True}, InvalidArgumentType),
    ],
)
def test_counts_and_sizes(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        ServerLimits(**kwargs)  # type: ignore[arg-type]


def test_errors_are_also_builtin_errors() -> None:
    with pytest.raises(TypeError):
        ServerLimits(max_connections=True)
    with pytest.raises(ValueError):
        ServerLimits(frame_timeout=float("inf"))
