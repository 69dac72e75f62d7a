"""The subcommands of ``otwire mxgw`` as coroutines returning JSON-ready results (``cli.py``)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Coroutine
from typing import Any

import betterproto2

from otwire import __version__
from otwire.codecs.mxgateway import from_mx_value, pb, to_mx_value
from otwire.errors import InvalidArgument

from .client import GatewayClient
from .galaxy import GalaxyRepositoryClient

__all__ = ["RUNNERS", "VALUE_TYPES", "parse_value", "version"]

VALUE_TYPES = ("auto", "bool", "int", "float", "double", "string", "datetime")
#: The gateway protocol version the reconstructed contracts describe (sparse arrays: v3). [P]
CONTRACT_PROTOCOL_VERSION = 3


def version() -> dict[str, Any]:
    """Versions of this client and of the contracts it was generated from (no network)."""
    return {
        "client": "otwire",
        "version": __version__,
        "contract_protocol_version": CONTRACT_PROTOCOL_VERSION,
        "packages": ["mxaccess_gateway.v1", "galaxy_repository.v1"],
    }


def parse_value(text: str, kind: str) -> tuple[Any, bool]:
    """The Python value of ``--value`` for ``--type`` and whether to send it as float32.

    Raises:
        InvalidArgument: the text is not a value of that type.
    """
    try:
        if kind == "auto":
            return _guess(text), False
        if kind == "bool":
            return {"true": True, "1": True, "false": False, "0": False}[text.lower()], False
        if kind == "int":
            return int(text), False
        if kind in ("float", "double"):
            return float(text), kind == "float"
        if kind == "datetime":
            return dt.datetime.fromisoformat(text), False
        return text, False
    except (KeyError, ValueError):
        raise InvalidArgument(f"--value {text!r} is not a {kind}") from None


def _guess(text: str) -> Any:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _connect_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "endpoint": args.endpoint,
        "api_key": args.api_key,
        "plaintext": args.plaintext,
        "ca_file": args.ca_file,
        "server_name_override": args.server_name_override,
        "timeout": args.timeout,
        "connect_timeout": args.timeout,
    }


def _event(event: pb.MxEvent) -> dict[str, Any]:
    """An event as proto3 JSON plus its decoded ``value``."""
    out = event.to_dict()
    if event.value is not None:
        out["decodedValue"] = _jsonable(from_mx_value(event.value))
    return dict(out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


async def _open_session(args: argparse.Namespace) -> Any:
    async with await GatewayClient.connect(**_connect_kwargs(args)) as client:
        reply = await client.open_session_raw(args.client_name)
        return reply.to_dict(include_default_values=True)


async def _register(args: argparse.Namespace) -> Any:
    async with await GatewayClient.connect(**_connect_kwargs(args)) as client:
        session = client.attach_session(args.session_id)
        return {"server_handle": await session.register(args.client_name)}


async def _add_item(args: argparse.Namespace) -> Any:
    async with await GatewayClient.connect(**_connect_kwargs(args)) as client:
        session = client.attach_session(args.session_id)
        return {"item_handle": await session.add_item(args.server_handle, args.item)}


async def _advise(args: argparse.Namespace) -> Any:
    async with await GatewayClient.connect(**_connect_kwargs(args)) as client:
        session = client.attach_session(args.session_id)
        await session.advise(args.server_handle, args.item_handle)
        return {"advised": True, "item_handle": args.item_handle, "server_handle": args.server_handle}


async def _write(args: argparse.Namespace) -> Any:
    value, float32 = parse_value(args.value, args.type)
    async with await GatewayClient.connect(**_connect_kwargs(args)) as client:
        session = client.attach_session(args.session_id)
        reply = await session.write(
            args.server_handle, args.item_handle, to_mx_value(value, float32=float32), args.user_id
        )
        return {"hresult": reply.hresult, "written": True, "item_handle": args.item_handle}


async def _stream_events(args: argparse.Namespace) -> Any:
    async with await GatewayClient.connect(**_connect_kwargs(args)) as client:
        session = client.attach_session(args.session_id)
        events = []
        stream = session.stream_events(after_worker_sequence=args.after_worker_sequence)
        async with contextlib.aclosing(stream) as source:  # type: ignore[type-var]
            async for event in source:
                events.append(_event(event))
                if len(events) >= args.max_events:
                    break
        return {"events": events, "session_id": args.session_id}


async def _smoke(args: argparse.Namespace) -> Any:
    async with await GatewayClient.connect(**_connect_kwargs(args)) as client:
        session = await client.open_session(args.client_name)
        server = await session.register(args.client_name)
        item = await session.add_item(server, args.item)
        await session.advise(server, item)
        first: pb.MxEvent | None = None
        async with contextlib.aclosing(session.stream_events()) as source:  # type: ignore[type-var]
            async for event in source:
                first = event
                break
        result: dict[str, Any] = {"item": args.item, "item_handle": item, "server_handle": server}
        if args.value is not None:
            value, float32 = parse_value(args.value, args.type)
            await session.write(server, item, to_mx_value(value, float32=float32), args.user_id)
            result["written"] = True
        result["first_event"] = _event(first) if first is not None else None
        await session.unregister(server)
        closed = await session.close()
        result["closed"] = closed is not None
        return result


async def _galaxy_test(args: argparse.Namespace) -> Any:
    async with await GalaxyRepositoryClient.connect(**_connect_kwargs(args)) as client:
        return {"ok": await client.test_connection()}


async def _galaxy_last(args: argparse.Namespace) -> Any:
    async with await GalaxyRepositoryClient.connect(**_connect_kwargs(args)) as client:
        when = await client.get_last_deploy_time()
        return {"time_of_last_deploy": when.isoformat() if when is not None else None}


async def _galaxy_discover(args: argparse.Namespace) -> Any:
    objects = []
    async with await GalaxyRepositoryClient.connect(**_connect_kwargs(args)) as client:
        source = client.iter_hierarchy(page_size=args.page_size)
        async with contextlib.aclosing(source) as pages:  # type: ignore[type-var]
            async for obj in pages:
                objects.append(obj.to_dict(casing=betterproto2.Casing.SNAKE))
                if args.max_objects is not None and len(objects) >= args.max_objects:
                    break
    return {"count": len(objects), "objects": objects}


async def _galaxy_watch(args: argparse.Namespace) -> Any:
    events = []
    async with await GalaxyRepositoryClient.connect(**_connect_kwargs(args)) as client:
        watch = client.watch_deploy_events()
        async with contextlib.aclosing(watch) as source:  # type: ignore[type-var]
            async for event in source:
                events.append(event.to_dict())
                if len(events) >= args.max_events:
                    break
    return {"events": events}


async def _bench(args: argparse.Namespace) -> Any:
    async with await GatewayClient.connect(**_connect_kwargs(args)) as client:
        session = await client.open_session(args.client_name)
        server = await session.register(args.client_name)
        item = await session.add_item(server, args.item)
        await session.advise(server, item)
        count, start = 0, time.perf_counter()
        async with contextlib.aclosing(session.stream_events()) as source:  # type: ignore[type-var]
            async for _ in source:
                count += 1
                if count >= args.max_events:
                    break
        seconds = time.perf_counter() - start
        await session.close()
    return {
        "events": count,
        "events_per_second": round(count / seconds, 1) if seconds else None,
        "seconds": round(seconds, 6),
    }


RUNNERS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, Any]]] = {
    "open-session": _open_session,
    "register": _register,
    "add-item": _add_item,
    "advise": _advise,
    "write": _write,
    "stream-events": _stream_events,
    "smoke": _smoke,
    "galaxy-test-connection": _galaxy_test,
    "galaxy-last-deploy": _galaxy_last,
    "galaxy-discover": _galaxy_discover,
    "galaxy-watch": _galaxy_watch,
    "bench-stream-events": _bench,
}
