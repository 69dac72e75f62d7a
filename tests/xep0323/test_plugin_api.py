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
