"""The plugin's API without a server: loading, arguments refused with otwire's errors, session handles."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.plugins.base import register_plugin

from otwire.errors import InvalidArgument

plugin_module = pytest.importorskip("otwire.clients.xep0323", reason="otwire's XEP-0323 plugin needs its machines")


def _offline(check: Callable[[Any], None], **config: Any) -> None:
    """Run ``check(plugin)`` on an otwire plugin of a client that never connects."""

    async def scenario() -> None:
        register_plugin(plugin_module.xep_0323, "xep_0323")
        client = ClientXMPP("requester@localhost/offline", "pw")
        client.register_plugin("xep_0323", {"threaded": False, **config}, module=plugin_module)
        check(client.plugin["xep_0323"])

    asyncio.run(scenario())


def test_module_exposes_the_plugin_class() -> None:
    cls = plugin_module.xep_0323
    assert cls.name == "xep_0323"
    assert cls.dependencies == {"xep_0030"}
    assert cls.__module__ == "otwire.clients.xep0323.plugin"
    assert cls.__mro__[1].__module__ == "slixmpp.plugins.base"


def test_register_node_refuses_a_bad_comm_timeout() -> None:
    def check(plugin: Any) -> None:
        with pytest.raises(InvalidArgument):
            plugin.register_node("Device01", object(), commTimeout=0)
        with pytest.raises(InvalidArgument):
            plugin.register_node("Device01", object(), commTimeout="5")
        assert plugin.nodes == {}

    _offline(check)


def test_cancel_of_an_unknown_session_is_invalid() -> None:
    def check(plugin: Any) -> None:
        with pytest.raises(InvalidArgument):
            plugin.cancel_request("12345")
        with pytest.raises(InvalidArgument):
            plugin.cancel_request("not a seqnr")

    _offline(check)


@pytest.mark.parametrize("flags", [{"bogus": "true"}, {"when": "tomorrow"}, {"from": "2024-13-01T00:00:00"}])
def test_bad_request_flags_are_invalid(flags: dict[str, str]) -> None:
    def check(plugin: Any) -> None:
        with pytest.raises(InvalidArgument):
            plugin.request_data("requester@localhost/offline", "sensor@localhost/d", lambda **kw: None, flags=flags)

    _offline(check)


def test_request_data_returns_the_session_at_once_and_it_cancels() -> None:
    sent: list[Any] = []

    def check(plugin: Any) -> None:
        plugin.xmpp.send = sent.append  # offline: capture what would go on the wire
        session = plugin.request_data(
            "requester@localhost/offline", "sensor@localhost/d", lambda **kw: None, nodeIds=["N1"], fields=["T"]
        )
        assert isinstance(session, str) and int(session) > 0
        plugin.cancel_request(session)

    _offline(check)
    request, cancel = (stanza.xml for stanza in sent)
    req = request.find("{urn:xmpp:iot:sensordata}req")
    assert req is not None and req.get("seqnr") == cancel.find("{urn:xmpp:iot:sensordata}cancel").get("seqnr")
    assert request.get("id") != req.get("seqnr")  # IQ ids independent of seqnr (slixmpp: id = seqnr)
    assert request.get("id") != cancel.get("id")


def test_unknown_dialect_refused() -> None:
    with pytest.raises(InvalidArgument):
        _offline(lambda plugin: None, dialect="v9")


def _readout() -> Any:
    from otwire.clients.xep0323.readout import Readout

    cancelled: list[bool] = []
    loop = asyncio.get_running_loop()
    return Readout("sensor@localhost/d", 7, lambda: cancelled.append(True), loop.create_future()), cancelled


def test_readout_parts_then_result() -> None:
    from otwire.codecs.xep0323 import Node

    async def scenario() -> tuple[list[str], Any, list[bool]]:
        readout, cancelled = _readout()
        readout.accepted(queued=True)
        readout.part("part-1", nodes=(Node(node_id="A"),))
        readout.part("part-2", nodes=(Node(node_id="B"),))
        readout.complete()
        readout.cancel()
        return [part async for part in readout], await readout, cancelled

    parts, result, cancelled = asyncio.run(scenario())
    assert parts == ["part-1", "part-2"]
    assert (result.peer, result.seqnr, result.queued) == ("sensor@localhost/d", 7, True)
    assert [node.node_id for node in result.nodes] == ["A", "B"]
    assert cancelled == [True]


def test_readout_failure_raised_by_await_and_by_iteration() -> None:
    from otwire.errors import RequestError

    async def scenario() -> tuple[list[str], BaseException, BaseException]:
        readout, _ = _readout()
        readout.part("part-1")
        readout.fail(RequestError("readout rejected: no"))
        readout.part("late")  # ignored once the readout ended
        parts: list[str] = []
        with pytest.raises(RequestError) as by_iteration:
            async for part in readout:
                parts.append(part)
        with pytest.raises(RequestError) as by_await:
            await readout
        return parts, by_iteration.value, by_await.value

    parts, by_iteration, by_await = asyncio.run(scenario())
    assert parts == ["part-1"]
    assert by_iteration is by_await


def test_readout_bounds_unconsumed_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    from otwire.clients.xep0323 import readout as readout_module
    from otwire.codecs.xep0323 import Node
    from otwire.errors import RequestError

    monkeypatch.setattr(readout_module, "MAX_PENDING_PARTS", 3)

    async def scenario() -> tuple[Any, list[str], BaseException]:
        readout, _ = _readout()
        for index in range(5):
            readout.part(f"part-{index}", nodes=(Node(node_id=str(index)),))
        readout.complete()
        result = await readout  # the result still has everything
        parts: list[str] = []
        with pytest.raises(RequestError) as caught:
            async for part in readout:
                parts.append(part)
        return result, parts, caught.value

    result, parts, error = asyncio.run(scenario())
    assert len(result.nodes) == 5
    assert parts == ["part-0", "part-1", "part-2"]
    assert "3 partial results" in str(error)
