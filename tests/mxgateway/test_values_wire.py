"""Every message through betterproto2 and through protobuf (grpcio-tools output), both ways.

The strategy builds any message of both packages from betterproto2's field metadata: scalars
over their whole range, enums over their members, oneofs with at most one arm set, nested
messages up to a depth. Both libraries must produce the same octets for the same message.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any

import betterproto2
import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.mxgateway import galaxy, pb

from .grpcio_peer_stubs import Stubs, load_stubs

UTC = dt.UTC
MAX_DEPTH = 3
_INTS = {
    "int32": (-(2**31), 2**31 - 1),
    "sint32": (-(2**31), 2**31 - 1),
    "sfixed32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "sint64": (-(2**63), 2**63 - 1),
    "sfixed64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "fixed32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
    "fixed64": (0, 2**64 - 1),
}
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "bool": st.booleans(),
    "string": st.text(max_size=8),
    "bytes": st.binary(max_size=8),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    **{name: st.integers(low, high) for name, (low, high) in _INTS.items()},
}
_WRAPPED: dict[str, st.SearchStrategy[Any]] = {
    "Timestamp": st.datetimes(
        min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=st.just(UTC)
    ),
    # whole seconds when negative: betterproto2 0.10 corrupts negative fractions (values.py)
    "Duration": st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=10000))
    | st.integers(-(10**9), 0).map(lambda s: dt.timedelta(seconds=s)),
    "Int32Value": _SCALARS["int32"],
    "BoolValue": st.booleans(),
}


def _classes(module: Any) -> list[type[betterproto2.Message]]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, betterproto2.Message) and cls.__module__ == module.__name__
    ]


MESSAGES = _classes(pb) + _classes(galaxy)


def _field(cls: type[betterproto2.Message], name: str, meta: Any, depth: int) -> st.SearchStrategy[Any] | None:
    """The strategy of one field's value, or ``None`` when the depth forbids it."""
    if meta.unwrap is not None:
        base = _WRAPPED[meta.unwrap().__name__]
    elif meta.proto_type == "enum":
        base = st.sampled_from(list(cls._betterproto.cls_by_field[name]))
    elif meta.proto_type == "message":
        if depth >= MAX_DEPTH:
            return None
        base = st.deferred(lambda: messages(cls._betterproto.cls_by_field[name], depth + 1))
    else:
        base = _SCALARS[meta.proto_type]
    if meta.repeated:
        return st.lists(base, max_size=3)
    return base


def messages(cls: type[betterproto2.Message], depth: int = 0) -> st.SearchStrategy[betterproto2.Message]:
    """Any message of ``cls``: every plain field drawn or left unset, one arm per oneof at most."""
    plain: dict[str, st.SearchStrategy[Any]] = {}
    groups: dict[str, list[st.SearchStrategy[dict[str, Any]]]] = {}
    for name, meta in cls._betterproto.meta_by_field_name.items():
        strategy = _field(cls, name, meta, depth)
        if strategy is None:
            continue
        if meta.group:
            groups.setdefault(meta.group, [st.just({})]).append(strategy.map(_named(name)))
        elif meta.optional:
            plain[name] = st.none() | strategy
        else:
            plain[name] = strategy
    parts = [st.fixed_dictionaries(plain), *(st.one_of(arms) for arms in groups.values())]
    return st.tuples(*parts).map(lambda dicts: cls(**{k: v for d in dicts for k, v in d.items() if v is not None}))


def _named(name: str) -> Callable[[Any], dict[str, Any]]:
    return lambda value: {name: value}


any_message = st.sampled_from(MESSAGES).flatmap(messages)


@pytest.fixture(scope="module")
def stubs() -> Stubs:
    return load_stubs()


def _pb2_class(stubs: Stubs, cls: type[betterproto2.Message]) -> Any:
    module = stubs.mx if cls.__module__ == pb.__name__ else stubs.galaxy
    return getattr(module, cls.__name__)


def test_the_strategy_reaches_every_message_type() -> None:
    assert {"MxCommandRequest", "MxCommandReply", "MxEvent", "DiscoverHierarchyRequest", "DeployEvent"} <= {
        cls.__name__ for cls in MESSAGES
    }
    assert len(MESSAGES) > 60


@given(message=any_message)
def test_betterproto_octets_parse_in_protobuf_to_the_same_octets(stubs: Stubs, message: betterproto2.Message) -> None:
    octets = bytes(message)
    other = _pb2_class(stubs, type(message)).FromString(octets)
    assert other.SerializeToString(deterministic=True) == octets
    assert type(message).parse(other.SerializeToString()) == message


@given(message=any_message)
def test_protobuf_messages_parse_in_betterproto_to_the_same_octets(stubs: Stubs, message: betterproto2.Message) -> None:
    # Build the protobuf message independently, from betterproto2's proto3 JSON.
    other = json_format.Parse(message.to_json(), _pb2_class(stubs, type(message))())
    octets = other.SerializeToString(deterministic=True)
    parsed = type(message).parse(octets)
    assert parsed == message
    assert bytes(parsed) == octets
