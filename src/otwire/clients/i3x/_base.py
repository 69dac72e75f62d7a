"""Shared parts of the i3X clients: ``base_url`` parsing, TLS, and answer -> model or error (notes §11)."""

from __future__ import annotations

import concurrent.futures
import ssl
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec

from otwire.clients.i3x import errors
from otwire.codecs.i3x import (
    BulkFailure,
    BulkItem,
    BulkResponse,
    Response,
    ResponseDetail,
    VQTInput,
    decode_bulk,
    decode_response,
)
from otwire.errors import (
    DecodeError,
    InvalidArgument,
    InvalidArgumentType,
    OTWireError,
    RequestTimeout,
    TransportError,
)
from otwire.protocols.i3x.config import I3XClientConfig
from otwire.protocols.i3x.events import ResponseReceived

__all__ = ["HistoryBody", "as_vqt", "bulk", "check", "client_config", "first", "item_error", "map_failure", "result"]

_Envelope = TypeVar("_Envelope", Response[Any], BulkResponse[Any])

NO_INFO = "GET /info answered 404: a pre-1.0 i3X server, or base_url lacks the API path (e.g. /v1)"


def client_config(
    base_url: str, auth: Any, timeout: float, token: str | None, headers: dict[str, str] | None, **options: Any
) -> I3XClientConfig:
    """The engine settings for ``base_url`` (``http(s)://host[:port]/path``); ``options`` are more
    :class:`I3XClientConfig` fields (``sse_idle_timeout``, ``backoff_min``, ...).

    Raises:
        InvalidArgument: ``base_url`` is not an http(s) URL with a host.
        InvalidArgumentType: ``auth`` is not a ``(user, secret)`` tuple.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"base_url={base_url!r} must be an http:// or https:// URL with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return I3XClientConfig(
        host=parts.hostname,
        port=port,
        scheme=parts.scheme,
        base_path=parts.path.rstrip("/"),
        request_timeout=timeout,
        token=token or None,
        auth=tuple(auth) if isinstance(auth, list) else auth,
        headers=tuple((headers or {}).items()),
        **options,
    )


def stream_options(idle_timeout: float | None, backoff: tuple[float, float]) -> dict[str, Any]:
    """The engine options of the clients' ``idle_timeout`` and ``backoff`` arguments.

    Raises:
        InvalidArgumentType: ``backoff`` is not a ``(min, max)`` pair.
    """
    if not isinstance(backoff, tuple) or len(backoff) != 2:
        raise InvalidArgumentType(f"backoff={backoff!r} must be a (min, max) pair of seconds")
    return {"sse_idle_timeout": idle_timeout, "backoff_min": backoff[0], "backoff_max": backoff[1]}


def ssl_context(config: I3XClientConfig, verify: Any) -> ssl.SSLContext | None:
    """``None`` for http; else a context: ``verify=True`` checks, ``False`` does not, a str is a CA file."""
    if config.scheme != "https":
        return None
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def map_failure(exc: BaseException) -> errors.I3XError:
    """The i3X error for a request that got no usable answer."""
    if isinstance(exc, errors.I3XError):
        return exc
    if isinstance(exc, RequestTimeout | concurrent.futures.TimeoutError):
        return errors.TimeoutError(f"no answer in time: {exc}")
    if isinstance(exc, OSError | TransportError):
        return errors.ConnectionError(f"connection failed: {exc!r}")
    if isinstance(exc, DecodeError):
        return errors.I3XError(f"malformed answer: {exc}")
    if isinstance(exc, OTWireError):
        return errors.ConnectionError(str(exc))
    return errors.I3XError(repr(exc))


def _detail_message(raw: bytes) -> str:
    try:
        response = decode_response(raw, Any)
    except DecodeError:
        return ""
    detail = response.failure
    return (detail.detail or detail.title) if detail is not None else ""


def check(answer: ResponseReceived) -> bytes:
    """The body of a 2xx answer.

    Raises:
        I3XError: the subclass of :func:`errors.for_status` for a 4xx/5xx, with ``status_code``.
    """
    if answer.status < 400:
        return answer.raw
    message = _detail_message(answer.raw) or f"HTTP {answer.status}"
    raise errors.for_status(answer.status)(message, status_code=answer.status)


def result(raw: bytes, type_: Any) -> Any:
    """The ``result`` of a single envelope, decoded as ``type_`` (``None`` when absent).

    Raises:
        I3XError: the body is malformed or the envelope reports a failure.
    """
    return _decoded(decode_response, raw, type_).result


def bulk(raw: bytes, type_: Any) -> BulkResponse[Any]:
    """A bulk envelope with ``type_`` results.

    Raises:
        I3XError: the body is malformed or the whole call failed.
    """
    return _decoded(decode_bulk, raw, type_)


def _decoded(decode: Callable[[bytes, Any], _Envelope], raw: bytes, type_: Any) -> _Envelope:
    try:
        response = decode(raw, type_)
    except DecodeError as exc:
        raise errors.I3XError(f"malformed answer: {exc}") from exc
    if response.failure is not None:
        raise item_error(response.failure, "request failed")
    return response


def item_error(detail: ResponseDetail | None, default: str) -> errors.I3XError:
    """The error for a failed item (status 404 when the detail has none)."""
    status = detail.status if detail is not None and detail.status is not None else 404
    message = (detail.detail or detail.title) if detail is not None else ""
    return errors.for_status(status)(message or default, status_code=status)


def first(response: BulkResponse[Any], default: str) -> Any:
    """The result of the one item asked for.

    Raises:
        I3XError: the item failed (:class:`~errors.NotFoundError` for 404).
    """
    item = response.results[0] if response.results else None
    if isinstance(item, BulkItem):
        return item.result
    raise item_error(item.detail if isinstance(item, BulkFailure) else None, default)


def raw_results(raw: bytes) -> list[dict[str, Any]]:
    """The ``results`` list of a bulk body as plain dicts (i3x-client returns these)."""
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise errors.I3XError(f"malformed answer: {exc}") from exc
    items = body.get("results") if isinstance(body, dict) else None
    return list(items) if isinstance(items, list) else []


def raise_failed(items: list[dict[str, Any]]) -> None:
    """Raise for the first failed item of an update (i3x-client's rule)."""
    for item in items:
        if isinstance(item, dict) and not item.get("success", True):
            found = item.get("responseDetail")
            detail: dict[str, Any] = found if isinstance(found, dict) else {}
            status = detail.get("status", 404)
            message = detail.get("detail") or detail.get("title") or f"update failed for {item.get('elementId')}"
            raise errors.for_status(status)(message, status_code=status)


def as_vqt(value: Any, quality: str | None = None, timestamp: str | None = None) -> dict[str, Any]:
    """A raw value or a VQT-shaped dict as a VQT dict (``quality``/``timestamp`` win when given)."""
    vqt = dict(value) if isinstance(value, dict) and "value" in value else {"value": value}
    if quality is not None:
        vqt["quality"] = quality
    if timestamp is not None:
        vqt["timestamp"] = timestamp
    return vqt


def vqt_input(vqt: dict[str, Any]) -> VQTInput:
    """A VQT dict as the request model (absent ``quality``/``timestamp`` left out of the JSON)."""
    return VQTInput(value=vqt.get("value"), quality=vqt.get("quality"), timestamp=vqt.get("timestamp"))


class WriteRoutes:
    """Which write routes a server takes: the 1.0 bulk ``PUT /objects/value`` until a Beta
    per-element ``PUT /objects/{elementId}/value`` was needed and worked (research §8.9)."""

    __slots__ = ("per_element",)

    def __init__(self) -> None:
        self.per_element = False


class HistoryItem(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """One ``PUT /objects/history`` item whose VQT leaves out absent fields."""

    element_id: str
    value: VQTInput


class HistoryBody(msgspec.Struct, frozen=True, kw_only=True):
    """The ``PUT /objects/history`` body built from :class:`HistoryItem`."""

    updates: list[HistoryItem]
