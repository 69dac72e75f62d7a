"""The simulator's fast path for the events it streams: pre-encoded ``MxEvent`` bytes.

The bytes come from the codec's :class:`otwire.codecs.mxgateway.EventEncoder` (byte-equal to
betterproto2, checked by ``tests/mxgateway/test_fast_encode.py``). :class:`Preencoded` carries
them through grpclib: the simulator's codec
(:class:`otwire.servers.mxgateway._transport.LimitedCodec`) sends them as they are.
"""

from __future__ import annotations

from otwire.codecs.mxgateway import EventEncoder as _EventEncoder
from otwire.codecs.mxgateway import pb

__all__ = ["EventEncoder", "Preencoded"]


class Preencoded:
    """Message bytes already encoded; grpclib's codec passes them through."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class EventEncoder:
    """The codec's event encoder, wrapping its bytes in :class:`Preencoded` for grpclib."""

    def __init__(self) -> None:
        self._encoder = _EventEncoder()

    def encode(self, event: pb.MxEvent) -> Preencoded:
        """The wire bytes of ``event`` (equal to ``bytes(event)``), ready to send."""
        return Preencoded(self._encoder.encode(event))
