"""Fuzz harness for the IMB3 engines: the client connection and one hub connection.

``fuzz_imb_engines(data)`` feeds arbitrary octets, whole and one octet at a time, to an
``IMBClientConnection`` and to one peer of an ``IMBHub`` (with a second,
subscribed connection so that routing runs too). Only ``RemoteProtocolError`` may escape
``receive_data``; after it the connection must be closed; both splits must end in the
same state with the same output. Runs under hypothesis (``fuzz/test_fuzz_imb_engines.py``).
"""

from __future__ import annotations

from otwire.codecs.imb import SetClientInfo, Subscribe, encode_command
from otwire.errors import RemoteProtocolError
from otwire.protocols.imb import IMBClientConnection, IMBHub


def _client(pieces: list[bytes]) -> tuple[list[str], bytes, bool, str | None]:
    conn = IMBClientConnection(7, "fuzz")
    return _feed(conn, pieces)


def _hub(pieces: list[bytes]) -> tuple[list[str], bytes, bool, str | None]:
    hub = IMBHub()
    hub.connect("listener", 0.0, name="listener")
    hub.receive_data("listener", encode_command(SetClientInfo(owner_id=1, owner_name="listener")), 0.0)
    hub.receive_data("listener", encode_command(Subscribe(event_id=0, event_name="fuzz")), 0.0)
    hub.connect("fuzzed", 0.0, name="fuzzed")
    result = _feed(_HubPeer(hub, "fuzzed"), pieces)
    hub.data_to_send("listener")  # routing to the other connection must not raise either
    while hub.next_event() is not None:
        pass
    return result


class _HubPeer:
    """One peer of a hub, driven through the PeerEngine verbs, with the verbs ``_feed`` uses."""

    def __init__(self, hub: IMBHub, peer: str) -> None:
        self.hub, self.peer = hub, peer

    @property
    def is_closed(self) -> bool:
        return self.hub.is_closed(self.peer)

    def receive_data(self, data: bytes, now: float) -> None:
        self.hub.receive_data(self.peer, data, now)

    def next_event(self) -> object | None:
        while (item := self.hub.next_event()) is not None:
            if item[0] == self.peer:
                return item[1]
        return None

    def data_to_send(self) -> bytes:
        return self.hub.data_to_send(self.peer)


def _feed(conn: object, pieces: list[bytes]) -> tuple[list[str], bytes, bool, str | None]:
    error = None
    for piece in pieces:
        if conn.is_closed:  # type: ignore[attr-defined]
            break  # e.g. after END_SESSION: a closed engine refuses input (LocalProtocolError)
        try:
            conn.receive_data(piece, 1.0)  # type: ignore[attr-defined]
        except RemoteProtocolError as exc:
            error = f"{type(exc).__name__}: {exc}"
            if not conn.is_closed:  # type: ignore[attr-defined]
                raise AssertionError(f"connection open after {error}") from exc
            break
    events = []
    while (event := conn.next_event()) is not None:  # type: ignore[attr-defined]
        events.append(type(event).__name__)
    return events, conn.data_to_send(), conn.is_closed, error  # type: ignore[attr-defined]


def fuzz_imb_engines(data: bytes) -> None:
    """Feed ``data`` to both IMB engines, whole and octet by octet.

    Raises:
        AssertionError: results depend on the split, or a connection stays open after an error.
        Exception: anything other than ``RemoteProtocolError`` from ``receive_data`` (a bug).
    """
    if not data:
        return
    for run in (_client, _hub):
        whole = run([data])
        bytewise = run([data[k : k + 1] for k in range(len(data))])
        if whole[1:] != bytewise[1:]:
            raise AssertionError(f"{run.__name__} results depend on the split: {data.hex()}")
