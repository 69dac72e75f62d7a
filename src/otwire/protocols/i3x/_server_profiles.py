"""Quirk profiles of the i3X server: how some real servers differ from plain 1.0 (research §9).

Each profile is a small declarative :class:`Profile`; :data:`PROFILES` maps the
``otwire serve i3x --profile`` names to them. ``"1.0"`` is the plain 1.0 Release
behaviour (the default). Only the differences documented precisely in the research
notes are modelled; the others are listed in ``specs/i3x/notes.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from otwire.codecs.i3x import VQT
from otwire.errors import InvalidArgument

__all__ = ["PROFILES", "Profile", "get_profile", "nested_value", "rewrite_errors"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """The quirks of one server family.

    Attributes:
        name: The ``--profile`` name.
        stream_greeting: SSE octets sent right after the stream's head (``b""``: none).
        keepalive: Whether idle streams get ``: keepalive`` comments.
        close_event: SSE octets sent before the server itself ends a stream (takeover by a
            newer stream, or deletion); ``b""``: the stream just ends.
        flush_on_open: Queued updates go out when a stream opens (``False``: they are dropped).
        sync_while_streaming: ``"error"`` (400), ``"empty"`` (``200 []``) or ``"serve"`` (the batches).
        error_keys: Which keys carry errors: ``("responseDetail",)``, ``("error",)`` (Beta:
            ``{code, message}``) or both (i3x2ua).
        sync_shape: ``"batches"`` (1.0: one batch per queued update), ``"rebundled"``
            (i3x2ua: every unacknowledged update in one batch numbered as its last update) or
            ``"flat"`` (Beta: a list of updates, each with its ``sequenceNumber``).
        overflow_206: Whether ``/sync`` answers 206 after the queue dropped updates (node-i3x: no).
        nested_value: Whether an update's ``value`` is a whole current-value object
            ``{isComposition, value, quality, timestamp}`` (node-i3x).
        one_update_per_event: Whether each update gets its own SSE event (CESMII demo); otherwise the
            updates of one :meth:`~otwire.protocols.i3x.server.I3XServer.publish_many` call share one.
        server_version: ``serverVersion`` of ``GET /info`` (``None``: the config's). The Beta
            profile's contains "beta", which is how i3x-client 1.0.0 recognises a Beta server.
    """

    name: str
    stream_greeting: bytes = b": connected\n\n"
    keepalive: bool = True
    close_event: bytes = b""
    flush_on_open: bool = True
    sync_while_streaming: str = "error"
    error_keys: tuple[str, ...] = ("responseDetail",)
    sync_shape: str = "batches"
    overflow_206: bool = True
    nested_value: bool = False
    one_update_per_event: bool = False
    server_version: str | None = None


#: ``--profile`` name -> profile (research §5 "Frames", §5 "Stream lifecycle", §3 "Beta deltas", §6, §9).
PROFILES: dict[str, Profile] = {
    "1.0": Profile(name="1.0"),
    # CESMII demo: one update per event, no comments, queue cleared on stream open, batches while streaming.
    "cesmii-demo": Profile(
        name="cesmii-demo",
        stream_greeting=b"",
        keepalive=False,
        flush_on_open=False,
        sync_while_streaming="serve",
        one_update_per_event=True,
    ),
    # i3x2ua: ": connected", ": keepalive", "event: close" + "data: {}" on takeover, 400 while streaming, both keys.
    # ... and every unacknowledged update re-bundled into one sync batch.
    "i3x2ua": Profile(
        name="i3x2ua",
        close_event=b"event: close\ndata: {}\n\n",
        error_keys=("responseDetail", "error"),
        sync_shape="rebundled",
    ),
    # node-i3x: ": keepalive" first and when idle, 200 [] on sync while streaming, no 206, nested values.
    "node-i3x": Profile(
        name="node-i3x",
        stream_greeting=b": keepalive\n\n",
        sync_while_streaming="empty",
        overflow_206=False,
        nested_value=True,
    ),
    # Beta: errors as {"code", "message"} under "error", a flat sync list, "beta" in serverVersion.
    "beta": Profile(name="beta", error_keys=("error",), sync_shape="flat", server_version="1.0.0-beta"),
}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name``.

    Raises:
        InvalidArgument: No profile has this name (the message lists them).
    """
    profile = PROFILES.get(name)
    if profile is None:
        raise InvalidArgument(f"unknown i3X profile {name!r} (known: {', '.join(PROFILES)})")
    return profile


def nested_value(vqt: VQT) -> dict[str, Any]:
    """node-i3x's update ``value``: a whole current-value object ``{isComposition, value, quality, timestamp}``."""
    return {"isComposition": vqt.components is not None, "value": vqt.value, "quality": vqt.quality,
            "timestamp": vqt.timestamp}  # fmt: skip


def _convert(node: dict[str, Any], keys: tuple[str, ...]) -> None:
    detail = node.get("responseDetail")
    if not isinstance(detail, dict) or node.get("success", True) is not False:
        return
    if "error" in keys:
        node["error"] = {"code": detail.get("status"), "message": detail.get("detail") or detail.get("title")}
    if "responseDetail" not in keys:
        del node["responseDetail"]


def rewrite_errors(body: bytes, keys: tuple[str, ...]) -> bytes:
    """Rewrite the error details of a JSON envelope (and of its bulk items) to ``keys``.

    ``body`` is returned unchanged for the 1.0 keys, or when it is not a JSON object.
    """
    if keys == ("responseDetail",) or not body.startswith(b"{"):
        return body
    try:
        envelope = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body
    if not isinstance(envelope, dict):
        return body
    _convert(envelope, keys)
    for item in envelope.get("results") or ():
        if isinstance(item, dict):
            _convert(item, keys)
    return msgspec.json.encode(envelope)
