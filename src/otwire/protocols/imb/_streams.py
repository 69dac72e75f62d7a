"""Reassembly of incoming IMB3 streams for the client engine (``specs/imb/notes.md`` §5.3).

A stream is an ekStreamHeader, ekStreamBody chunks and an ekStreamTail on one event,
keyed by (client event id, stream id) so interleaved streams stay apart.
"""

from __future__ import annotations

from collections import deque

from otwire.codecs.imb import StreamBody, StreamHeader, StreamTail
from otwire.protocols import Event as EngineEvent
from otwire.protocols.imb.events import (
    StreamAborted,
    StreamData,
    StreamEnded,
    StreamStarted,
    UnexpectedStreamData,
)

__all__ = ["StreamAssembler"]


class _Stream:
    __slots__ = ("name", "size")

    def __init__(self, name: str) -> None:
        self.name = name
        self.size = 0


class StreamAssembler:
    """Incoming streams keyed by (client event id, stream id): header, chunks, tail -> events.

    Args:
        events: The engine's event queue (appended to).
        max_open: Most streams open at once; a new header aborts the oldest.
    """

    def __init__(self, events: deque[EngineEvent], max_open: int) -> None:
        self._events = events
        self._max = max_open
        self._streams: dict[tuple[int, int], _Stream] = {}
        self._names: dict[tuple[int, int], str] = {}  # event name of each open stream

    def __len__(self) -> int:
        return len(self._streams)

    def on_chunk(self, event_id: int, name: str, body: StreamHeader | StreamBody | StreamTail) -> None:
        """Handle one stream event on the client event ``event_id`` (full name ``name``)."""
        key = (event_id, body.stream_id)
        streams, events = self._streams, self._events
        if isinstance(body, StreamHeader):
            if key in streams:
                self._abort(key, "restarted by a new stream header")
            while len(streams) >= self._max:
                self._abort(next(iter(streams)), f"more than {self._max} streams open")
            streams[key] = _Stream(body.stream_name)
            self._names[key] = name
            events.append(
                StreamStarted(
                    event_id=event_id, event_name=name, stream_id=body.stream_id, stream_name=body.stream_name
                )
            )
            return
        last = isinstance(body, StreamTail)
        stream = streams.get(key)
        if stream is None:
            events.append(
                UnexpectedStreamData(
                    event_id=event_id, event_name=name, stream_id=body.stream_id, data=body.data, last=last
                )
            )
            return
        sid, sname = body.stream_id, stream.name
        if body.data:
            events.append(
                StreamData(
                    event_id=event_id,
                    event_name=name,
                    stream_id=sid,
                    stream_name=sname,
                    offset=stream.size,
                    data=body.data,
                )
            )
            stream.size += len(body.data)
        if last:
            del streams[key], self._names[key]
            events.append(
                StreamEnded(event_id=event_id, event_name=name, stream_id=sid, stream_name=sname, size=stream.size)
            )

    def abort_all(self, reason: str) -> None:
        """Abort every open stream (``StreamAborted`` each)."""
        for key in list(self._streams):
            self._abort(key, reason)

    def _abort(self, key: tuple[int, int], reason: str) -> None:
        stream = self._streams.pop(key)
        name = self._names.pop(key)
        self._events.append(
            StreamAborted(
                event_id=key[0],
                event_name=name,
                stream_id=key[1],
                stream_name=stream.name,
                size=stream.size,
                reason=reason,
            )
        )
