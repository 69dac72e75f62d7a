"""Misuse of every public method of the IMB clients raises only errors of ``otwire.errors``.

Each method is called with its valid arguments, then with every value of :data:`BAD` in
each position in turn. Whatever happens (the call may also succeed: ``"x"`` is a fine
name), an exception that escapes must be an :class:`~otwire.errors.OTWireError`
(argument errors are also ``ValueError``/``TypeError``, see ``errors.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import otwire.clients.imb as imb
from helpers import WAIT
from otwire.errors import InvalidArgument, InvalidArgumentType, OTWireError
from otwire.servers.imb import Hub

#: Wrong values of every kind: types, signs, sizes, NaN, non-UTF-8 octets.
BAD: tuple[Any, ...] = (None, "x", "", -1, 2**40, 1.5, float("nan"), b"\xff", object(), [], True, 10**30)


def cases(valid: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """The valid arguments, then each position replaced by each bad value."""
    yield valid
    for position in range(len(valid)):
        for bad in BAD:
            yield (*valid[:position], bad, *valid[position + 1 :])


def stream() -> io.BytesIO:
    return io.BytesIO(b"0123456789" * 10)


#: Client methods: name -> valid arguments (the client's federation is "fed").
CLIENT_METHODS: dict[str, tuple[Any, ...]] = {
    "get_event": ("ev", True, True),
    "subscribe": ("ev", True),
    "publish": ("ev", True),
    "unsubscribe": ("ev", True),
    "unpublish": ("ev", True),
    "signal_subscribe": (40, 0, "fed.raw"),
    "signal_publish": (41, 0, "fed.raw2"),
    "signal_unsubscribe": ("fed.raw",),
    "signal_unpublish": ("fed.raw2",),
    "signal_normal_event": (0, imb.ekNormalEvent, b"data"),
}

#: EventDefinition methods: name -> valid arguments (callables build fresh streams).
DEFINITION_METHODS: dict[str, tuple[Any, ...]] = {
    "subscribe": (),
    "unsubscribe": (),
    "publish": (),
    "unpublish": (),
    "signal_event": (imb.ekNormalEvent, b"payload"),
    "signal_change_object": (imb.actionNew, 5, "attr"),
    "signal_string": ("text",),
    "signal_stream": ("name", stream, 16),
    "wait_subscribed": (0.5,),
    "add_handler": (imb.ekNormalEvent, print),
    "remove_handler": (print,),
}


def fresh(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a() if a is stream else a for a in args)


def check(call: Callable[[], Any]) -> None:
    with contextlib.suppress(OTWireError):
        call()


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    # No self-delivery: a raw event of kind 1 (True) would come back as a malformed
    # ekChangeObjectEvent, which the client rightly treats as a peer violation.
    with Hub("127.0.0.1", 0, self_delivery=False) as running:
        yield running


@pytest.mark.parametrize("method", sorted(CLIENT_METHODS))
def test_client_methods(hub: Hub, method: str) -> None:
    with imb.Client("127.0.0.1", hub.port, 1, "misuse", "fed") as client:
        for args in cases(CLIENT_METHODS[method]):
            check(lambda: getattr(client, method)(*args))  # noqa: B023
        assert client.is_connected


@pytest.mark.parametrize("method", sorted(DEFINITION_METHODS))
def test_event_definition_methods(hub: Hub, method: str) -> None:
    with imb.Client("127.0.0.1", hub.port, 1, "misuse", "fed") as client:
        definition = client.subscribe("ev")
        assert definition.wait_subscribed(WAIT)
        for args in cases(DEFINITION_METHODS[method]):
            check(lambda: getattr(definition, method)(*fresh(args)))  # noqa: B023
        assert client.is_connected


def test_client_constructor(hub: Hub) -> None:
    valid = ("127.0.0.1", hub.port, 1, "owner", "fed")
    for args in cases(valid):
        for options in ({}, {"timeout": args[1]}, {"send_timeout": args[1]}):
            with contextlib.suppress(OTWireError):
                imb.Client(*(args if not options else valid), **options).disconnect()  # type: ignore[arg-type]


def test_the_audit_findings_are_typed(hub: Hub) -> None:
    with pytest.raises(InvalidArgumentType):
        imb.Client("127.0.0.1", hub.port, timeout="x")  # type: ignore[arg-type]
    with imb.Client("127.0.0.1", hub.port, 1, "misuse", "fed") as client:
        definition = client.publish("ev")
        with pytest.raises(InvalidArgumentType):  # was int("a"): ValueError
            definition.signal_event("a", b"")  # type: ignore[arg-type]
        for payload in ("abc", None):
            with pytest.raises(InvalidArgumentType):
                definition.signal_event(1, payload)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentType):
            definition.signal_stream("s", 5)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentType):
            definition.wait_subscribed("x")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentType):
            client.subscribe(5)  # type: ignore[arg-type]
        assert client.is_connected


# --- AsyncClient ---------------------------------------------------------------------------------

ASYNC_CLIENT_METHODS: dict[str, tuple[Any, ...]] = {
    "get_event": ("ev", True, True),
    "subscribe": ("ev", True),
    "publish": ("ev", True),
    "unsubscribe": ("ev", True),
    "unpublish": ("ev", True),
    "unique_client_id": (0.5,),
    "next_event": (0.01,),
}


async def acheck(call: Callable[[], Any]) -> None:
    """Like :func:`check`; a call still waiting after 0.5 s (``next_event(None)``) is cancelled."""
    limit = asyncio.timeout(0.5)
    try:
        async with limit:
            result = call()
            if asyncio.iscoroutine(result):
                await result
    except OTWireError:
        pass
    except TimeoutError:
        if not limit.expired():
            raise


@pytest.mark.parametrize("method", sorted(ASYNC_CLIENT_METHODS))
def test_async_client_methods(hub: Hub, method: str) -> None:
    async def main() -> None:
        async with imb.AsyncClient("127.0.0.1", hub.port, 1, "misuse", "fed") as client:
            for args in cases(ASYNC_CLIENT_METHODS[method]):
                await acheck(lambda: getattr(client, method)(*args))  # noqa: B023
            assert client.is_connected

    asyncio.run(main())


@pytest.mark.parametrize("method", sorted(DEFINITION_METHODS))
def test_async_event_definition_methods(hub: Hub, method: str) -> None:
    async def main() -> None:
        async with imb.AsyncClient("127.0.0.1", hub.port, 1, "misuse", "fed") as client:
            definition = await client.subscribe("ev")
            assert await definition.wait_subscribed(WAIT)
            for args in cases(DEFINITION_METHODS[method]):
                await acheck(lambda: getattr(definition, method)(*fresh(args)))  # noqa: B023
            assert client.is_connected

    asyncio.run(main())


def test_async_client_constructor_and_connect(hub: Hub) -> None:
    async def main() -> None:
        valid = ("127.0.0.1", hub.port, 1, "owner", "fed")
        for args in cases(valid):
            for options in ({}, {"timeout": args[1]}, {"send_timeout": args[1]}, {"max_queue": args[1]}):
                try:
                    client = imb.AsyncClient(*(args if not options else valid), **options)  # type: ignore[arg-type]
                    await client.connect()
                    await client.disconnect()
                except OTWireError:
                    pass

    asyncio.run(main())


def test_the_async_audit_findings_are_typed(hub: Hub) -> None:
    async def main() -> None:
        with pytest.raises(InvalidArgument):
            await imb.AsyncClient("127.0.0.1", -1).connect()
        async with imb.AsyncClient("127.0.0.1", hub.port, 1, "misuse", "fed") as client:
            definition = await client.publish("ev")
            with pytest.raises(InvalidArgumentType):
                await definition.signal_event(1, "abc")  # type: ignore[arg-type]
            with pytest.raises(InvalidArgumentType):
                await definition.signal_stream("s", 5)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgumentType):
                await client.next_event("x")  # type: ignore[arg-type]
            assert client.is_connected

    asyncio.run(main())
