"""Fuzz harness for the IEC 60870-5-104 codec (STYLE.md 3.6, h11 ``fuzz/afl-server.py``).

``fuzz_one(data)`` feeds arbitrary octets to every decoding entry point. Only
``DecodeError`` (a ``RemoteProtocolError``) may escape a decoder; anything else
propagates and is the finding. The framer must also give the same items whether
the octets arrive whole or one by one, and those items must cover the input.

Runs under hypothesis (``make fuzz``, ``fuzz/test_fuzz_iec104.py``,
``tests/iec104/test_fuzz.py``) and, when installed, under atheris::

    .venv/bin/python fuzz/harness.py fuzz/corpus/iec104 -max_total_time=600
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

from otwire.codecs import imb
from otwire.codecs.iec104 import (
    APDUFramer,
    RawAPDU,
    decode_apdu,
    decode_apdu_schema,
    decode_asdu,
)
from otwire.codecs.iec104.framing import FramerItem
from otwire.errors import DecodeError


def frame_items(data: bytes, *, bytewise: bool) -> list[FramerItem]:
    """Feed ``data`` whole or one octet at a time, pulling items as they come; then close."""
    framer = APDUFramer()
    items: list[FramerItem] = []
    pieces = [data[k : k + 1] for k in range(len(data))] if bytewise else [data]
    for piece in pieces:
        if piece:  # b"" means end of stream
            framer.receive_data(piece)
        items.extend(framer)
    framer.close()
    items.extend(framer)
    return items


def _decode(decoder: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decoder(data)


def fuzz_one(data: bytes, proto: str = "iec104") -> None:
    """Decode ``data`` every way the codec of ``proto`` allows; only ``DecodeError`` is expected.

    Args:
        data: Arbitrary octets.
        proto: ``"iec104"`` (the default) or ``"imb"``.

    Raises:
        AssertionError: the framer's items depend on the split or lose octets.
        Exception: anything a decoder raises other than ``DecodeError`` (a bug).
    """
    if proto == "imb":
        _fuzz_imb(data)
        return
    whole = frame_items(data, bytewise=False)
    if frame_items(data, bytewise=True) != whole:
        raise AssertionError(f"framer items depend on the split: {data.hex()}")
    if b"".join(item.data for item in whole) != data:
        raise AssertionError(f"framer items do not cover the input: {data.hex()}")
    for item in whole:
        if isinstance(item, RawAPDU):
            _decode(decode_apdu, item.data)
            _decode(decode_apdu_schema, item.data)
    _decode(decode_apdu, data)
    _decode(decode_asdu, data)


def _imb_items(data: bytes, *, bytewise: bool) -> list[imb.FramerItem]:
    framer = imb.IMBFramer()
    items: list[imb.FramerItem] = []
    for piece in [data[k : k + 1] for k in range(len(data))] if bytewise else [data]:
        if piece:  # b"" means end of stream
            framer.receive_data(piece)
        items.extend(framer)
    framer.close()
    items.extend(framer)
    return items


def _fuzz_imb(data: bytes) -> None:
    """``fuzz_one`` for the IMB3 codec: the framer, both command paths, both event paths."""
    whole = _imb_items(data, bytewise=False)
    if _imb_items(data, bytewise=True) != whole:
        raise AssertionError(f"IMB framer items depend on the split: {data.hex()}")
    if b"".join(item.data for item in whole) != data:
        raise AssertionError(f"IMB framer items do not cover the input: {data.hex()}")
    for item in whole:
        if isinstance(item, imb.FrameItem):
            _decode(imb.decode_command, item.data)
            _decode(imb.decode_command_schema, item.data)
            _imb_events(item.frame.payload)
    for decoder in (imb.decode_frame, imb.decode_frame_schema, imb.decode_command, imb.decode_command_schema):
        _decode(decoder, data)
    _imb_events(data)


def _imb_events(payload: bytes) -> None:
    for decoder in (imb.decode_event, imb.decode_event_schema):
        for focus in (False, True):
            with contextlib.suppress(DecodeError):
                decoder(payload, focus=focus)


def main() -> None:
    """Run ``fuzz_one`` under atheris (libFuzzer arguments from the command line)."""
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("atheris is not installed (pip install atheris); `make fuzz` runs hypothesis")
    atheris.instrument_all()
    atheris.Setup(sys.argv, fuzz_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
