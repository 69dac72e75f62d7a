"""Server-stream reading on grpclib, one batch of messages per wake-up (notes §"Fast path").

grpclib's ``Stream.recv_message()`` costs two buffer reads, an acknowledgement and a codec
call per message, under four generator layers (betterproto2's stub, grpclib's iterator).
:func:`message_batches` keeps grpclib for everything else (the HTTP/2 connection, headers,
flow control, trailers, status, deadlines, resets) and takes the DATA octets grpclib queued for
the stream itself: every chunk that is there when the task wakes, acknowledged together (the
same flow-control credit grpclib would give back, one call instead of one per frame), cut into
messages by the codec's :class:`~otwire.codecs.mxgateway.framing.MessageFramer` and decoded at
once. It reads grpclib's per-stream buffer (``Stream._stream.buffer``) and the stream's
``_wrapper`` (which wakes a waiting reader with ``StreamTerminatedError`` when the connection
drops); when a grpclib version lacks them it falls back to ``recv_message()``, one message per
batch. ``tests/mxgateway/test_framing.py`` checks both ways give the same messages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from grpclib.client import Stream
from grpclib.exceptions import ProtocolError

from otwire.codecs.mxgateway.framing import MessageFramer

__all__ = ["message_batches", "reads_buffer"]

T = TypeVar("T")


def reads_buffer(stream: Stream[Any, Any]) -> bool:
    """Whether ``stream`` has the grpclib internals :func:`message_batches` reads (else it uses ``recv_message``)."""
    buffer = getattr(getattr(stream, "_stream", None), "buffer", None)
    return (
        hasattr(stream, "_wrapper")
        and hasattr(buffer, "_unacked")
        and hasattr(buffer, "_ack_callback")
        and hasattr(buffer, "_eof")
    )


async def message_batches(
    stream: Stream[Any, T], decode: Callable[[bytes], T], *, fast: bool = True
) -> AsyncIterator[list[T]]:
    """The messages of a grpclib server stream whose request was sent, in order, a list per read.

    ``decode`` turns one message's octets into the message (the general path uses the
    stream's codec instead). Ends after the trailers: a non-OK status raises as
    ``recv_message`` would. ``fast=False`` forces the general path (the tests compare them).

    Raises:
        GRPCError: the status of the call when it is not OK (headers or trailers).
        StreamTerminatedError: the connection dropped or the stream was reset.
        ProtocolError: the stream ended inside a message.
        DecodeError: a compressed message or an oversized length prefix.
    """
    await stream.recv_initial_metadata()
    if not (fast and reads_buffer(stream)):
        async for message in stream:
            yield [message]
        return
    buffer = stream._stream.buffer
    queue, acknowledge, wrapper = buffer._unacked, buffer._ack_callback, stream._wrapper
    framer = MessageFramer()
    while True:
        if queue.empty():
            with wrapper:
                chunk = await queue.get()
        else:
            chunk = queue.get_nowait()
        chunks, credit = [chunk.data], chunk.ack_size
        while not queue.empty():
            chunk = queue.get_nowait()
            chunks.append(chunk.data)
            credit += chunk.ack_size
        if credit:
            acknowledge(credit)
        messages = framer.feed(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if messages:
            yield [decode(message) for message in messages]
        if buffer._eof and queue.empty():
            break
    if framer.pending:
        raise ProtocolError(f"the stream ended inside a message ({framer.pending} octets held)")
    await stream.recv_trailing_metadata()
