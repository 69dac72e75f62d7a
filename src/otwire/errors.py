"""The one error tree shared by every otwire protocol (``specs/pattern.md``, "Errors").

::

    OTWireError
    ├── ProtocolError
    │   ├── LocalProtocolError      caller misuse (fix your code)
    │   │   ├── EncodeError         a message cannot be encoded
    │   │   ├── InvalidArgument     also a ValueError: an argument out of range
    │   │   ├── InvalidArgumentType also a TypeError: an argument of the wrong type
    │   │   └── InvalidState        the object is not in a state for this call (not connected, closed)
    │   └── RemoteProtocolError     the peer sent something wrong (drop the peer)
    │       ├── DecodeError         malformed bytes, with offset and hex excerpt
    │       └── SequenceError       IEC 104 N(S)/N(R) out of sequence (otwire.protocols.iec104)
    ├── RequestError                the peer refused a request (carries its status or code)
    │   └── RequestTimeout          no answer within the request's timeout (also a TimeoutError)
    ├── TransportError
    │   ├── ConnectTimeout
    │   └── ConnectionLost
    └── CaptureError                a capture file cannot be read (otwire.inspect)

Which layer raises what:

============  ===============================================================
layer         raises
============  ===============================================================
codecs        ``DecodeError`` from ``decode_*``; ``EncodeError`` from message
              constructors and ``encode_*``. Nothing else.
protocols     ``RemoteProtocolError`` (and subclasses) from ``receive_data`` /
              ``receive_message`` only, after the engine closed itself;
              ``LocalProtocolError`` from every input used wrongly. Timeouts,
              closes and lost connections are *events*
              (``ConnectionTerminated``), never exceptions.
transports    ``TransportError``: ``ConnectTimeout`` when a connection cannot be
              set up in time, ``ConnectionLost`` when it ends under a waiter.
clients       everything above, plus ``RequestError`` (the peer answered "no":
              an IEC 104 negative confirmation or COT 44..47, an HTTP error
              status; IMB3 has no refusal on the wire, the hub only logs and
              drops) and ``RequestTimeout``. Clients that keep a replaced
              API's ``bool`` results (IEC 104, as c104) do not raise these but
              keep the last one (``connection.last_request_error``).
              Argument checks raise
              ``InvalidArgument``/``InvalidArgumentType`` (which are also
              ``ValueError``/``TypeError``), calls in the wrong state
              ``InvalidState``. Nothing outside this tree escapes a client.
servers       ``InvalidArgument``/``InvalidArgumentType`` (``LocalProtocolError``)
              for bad arguments, also a ``record`` file that cannot be created
              (from the ``OSError``); ``TransportError`` when the address cannot
              be bound; ``RequestTimeout`` when a call from another thread gets
              no answer from the server's event loop. A misbehaving peer never
              raises in the server: it is disconnected with one logged line.
inspect       ``CaptureError`` for a file that cannot be read,
              ``InvalidArgument``/``InvalidArgumentType`` for bad ports or
              protocol names.
============  ===============================================================
"""

from __future__ import annotations

#: Octets shown on each side of the failing offset in a ``DecodeError`` excerpt.
EXCERPT_RADIUS = 16


class OTWireError(Exception):
    """Base class of every exception otwire raises on purpose."""


class ProtocolError(OTWireError):
    """A protocol rule was broken, locally or by the peer."""


class LocalProtocolError(ProtocolError):
    """The caller misused the API: an invalid message, a verb in the wrong state."""


class EncodeError(LocalProtocolError):
    """A message failed validation before it was encoded (range, length or count)."""


class InvalidArgument(LocalProtocolError, ValueError):
    """An argument is out of range (also a ``ValueError``, as the replaced APIs raise)."""


class InvalidArgumentType(LocalProtocolError, TypeError):
    """An argument has the wrong type (also a ``TypeError``)."""


class InvalidState(LocalProtocolError):
    """The call is not possible in the object's current state (not connected, closed, stopped)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something that breaks the protocol."""


class DecodeError(RemoteProtocolError):
    """Bytes could not be decoded.

    Attributes:
        offset: Octet offset in ``data`` where decoding failed (0-based).
        data: The whole input that failed to decode (kept for dissectors).
        excerpt: Hex of at most ``2 * EXCERPT_RADIUS`` octets around ``offset``.
        reason: The message without the position and excerpt.
        path: Where in a tree the failure is (XML: ``/fields/node[0]/timestamp[1]@value``),
            or ``None`` for flat formats.
    """

    def __init__(
        self,
        reason: str,
        *,
        data: bytes | bytearray | memoryview = b"",
        offset: int = 0,
        path: str | None = None,
    ):
        self.reason = reason
        self.data = bytes(data)
        self.offset = offset
        self.path = path
        self.excerpt = hex_excerpt(self.data, offset)
        where = f" at {path}" if path is not None else ""
        super().__init__(f"{reason}{where} at offset {offset}: {self.excerpt}")


class RequestError(OTWireError):
    """The peer answered a request with a refusal.

    Attributes:
        code: The peer's own status or code (IEC 104 COT such as 44..47, an HTTP
            status, an IMB command code, an MXAccess HRESULT), or ``None``.
        request: What was sent (protocol message object), when known.
        reply: The refusal as received, when there is one.
    """

    def __init__(self, message: str, *, code: int | None = None, request: object = None, reply: object = None):
        super().__init__(message)
        self.code = code
        self.request = request
        self.reply = reply


class RequestTimeout(RequestError, TimeoutError):
    """No answer arrived within the request's timeout (also a ``TimeoutError``)."""


class TransportError(OTWireError):
    """The transport below a protocol failed."""


class ConnectTimeout(TransportError):
    """A connection could not be established in time."""


class ConnectionLost(TransportError):
    """An established connection ended unexpectedly."""


def hex_excerpt(data: bytes, offset: int, radius: int = EXCERPT_RADIUS) -> str:
    """Return a bounded hex excerpt of ``data`` around ``offset``.

    At most ``radius`` octets before and after ``offset`` are shown; ``..``
    marks a cut, and ``[xx]`` marks the octet at ``offset`` (or ``[]`` when
    ``offset`` is at the end of the input).

    Args:
        data: The input octets.
        offset: Position of interest, clamped to ``0..len(data)``.
        radius: Octets shown on each side.

    Returns:
        A string such as ``"68 04 [07] 00 00 00"``.
    """
    offset = max(0, min(offset, len(data)))
    start = max(0, offset - radius)
    stop = min(len(data), offset + radius)
    before = data[start:offset].hex(" ")
    at = f"[{data[offset]:02x}]" if offset < len(data) else "[]"
    after = data[offset + 1 : stop].hex(" ")
    parts = [p for p in (".." if start > 0 else "", before, at, after) if p]
    if stop < len(data):
        parts.append("..")
    return " ".join(parts)
