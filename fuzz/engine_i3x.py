"""Fuzz harness for the i3X client engine: arbitrary server octets on a request and on a stream.

``fuzz_i3x_engine(data)`` drives :class:`otwire.protocols.i3x.I3XClientEngine` like a
transport would and feeds ``data`` as the server's answer, whole and one octet at a
time, then the end of stream, in four places:

* a request connection (``data`` is the whole response: head and body);
* the same with a valid ``200`` gzip head before ``data`` (the body is fuzzed through zlib);
* a stream connection with a valid ``200 text/event-stream`` chunked head before
  ``data`` wrapped as one chunk (SSE parsing and update mapping are fuzzed);
* the same on the stream's second connection, after a clean end and the reconnect, with
  reading paused (the takeover guard and back-pressure paths).

Only ``RemoteProtocolError`` may escape ``receive_data``; after one, the connection must
be handed back through ``connections_to_close``; whole and octet-by-octet input must
give the same events and end. Runs under hypothesis (``tests/i3x/test_client_engine_fuzz.py``)
and, when installed, under atheris::

    .venv/bin/python fuzz/engine_i3x.py -max_total_time=600
"""

from __future__ import annotations

import sys

from otwire.codecs.i3x import Response, decode_response
from otwire.errors import RemoteProtocolError
from otwire.protocols.i3x import I3XClientConfig, I3XClientEngine

GZIP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
Result = tuple[list[str], bool, str | None]


def _engine() -> I3XClientEngine:
    return I3XClientEngine(I3XClientConfig(seed=1, max_body_size=1 << 16, max_event_size=1 << 12))


def _decoder(body: bytes) -> Response[object]:
    return decode_response(body, object)


def _drive(engine: I3XClientEngine, pieces: list[bytes]) -> Result:
    [conn_id] = engine.connections_to_open()
    engine.connection_made(conn_id, 0.0)
    engine.data_to_send(conn_id)
    error = None
    closed: list[int] = []
    for piece in [*pieces, b""]:
        try:
            engine.receive_data(conn_id, piece, 1.0)
        except RemoteProtocolError as exc:
            error = type(exc).__name__
            closed += engine.connections_to_close()
            if conn_id not in closed:
                raise AssertionError(f"connection {conn_id} not closed after {exc!r}") from exc
            break
        closed += engine.connections_to_close()
    engine.handle_timer(1.0)
    events = []
    while (event := engine.next_event()) is not None:
        events.append(type(event).__name__ + ":" + str(getattr(event, "reason", "")))
    return events, conn_id in closed, error


def _request(pieces: list[bytes]) -> Result:
    engine = _engine()
    engine.request("GET", "/info", None, 0.0, expect=_decoder)
    return _drive(engine, pieces)


def _stream(pieces: list[bytes]) -> Result:
    engine = _engine()
    engine.open_stream("sub", "client", 0.0)
    return _drive(engine, pieces)


def _restream(pieces: list[bytes]) -> Result:
    """The stream's second connection, after a clean end and the reconnect, with reading paused."""
    engine = _engine()
    stream_id = engine.open_stream("sub", "client", 0.0)
    [first] = engine.connections_to_open()
    engine.connection_made(first, 0.0)
    engine.data_to_send(first)
    engine.receive_data(first, SSE_HEAD + b"0\r\n\r\n", 0.1)  # a clean end: reconnect later
    engine.connections_to_close()
    engine.handle_timer(engine.get_timer() or 0.0)
    engine.pause_stream(stream_id, True, 0.9)
    return _drive(engine, pieces)


def _splits(data: bytes) -> tuple[list[bytes], list[bytes]]:
    return [data], [data[k : k + 1] for k in range(len(data))]


def fuzz_i3x_engine(data: bytes) -> None:
    """Feed ``data`` as server octets in the four places, whole and octet by octet.

    Raises:
        AssertionError: results depend on the split, or a connection stays open after an error.
        Exception: anything other than ``RemoteProtocolError`` from ``receive_data`` (a bug).
    """
    chunked = b"%x\r\n%s\r\n" % (len(data), data) if data else b""
    cases = [
        (_request, data),
        (_request, GZIP_HEAD % len(data) + data),
        (_stream, SSE_HEAD + chunked),
        (_restream, SSE_HEAD + chunked),
    ]
    for run, octets in cases:
        whole, bytewise = (run(pieces) for pieces in _splits(octets))
        if whole != bytewise:
            raise AssertionError(f"{run.__name__} results depend on the split: {octets.hex()}\n{whole}\n{bytewise}")


def main() -> None:
    """Run ``fuzz_i3x_engine`` under atheris (libFuzzer arguments from the command line)."""
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("atheris is not installed (pip install atheris); the hypothesis test runs without it")
    atheris.instrument_all()
    atheris.Setup(sys.argv, fuzz_i3x_engine)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
