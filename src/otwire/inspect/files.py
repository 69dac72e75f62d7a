"""Capture files on disk: opening (gzip-compressed or not), hex dumps and raw streams.

:class:`Source` opens a file and, when it starts with the gzip magic, reads it through
:class:`gzip.GzipFile`, whatever its name; :attr:`Source.position` counts the octets read
from disk, for a progress bar. Hex dumps and raw streams are read here as pseudo-flow
records (see :func:`otwire.inspect.capture.read_capture`).
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Final, TypeAlias, cast

from otwire.inspect.records import CaptureError, CaptureStats, CaptureWarning, Data, Flow, Record, Sender, StreamStart

#: Captures bundled with otwire: IEC 104 from ITI, University of Illinois (CC BY 4.0) and our own
#: IMB3 hub and i3X server recordings (see samples/ATTRIBUTION.md).
SAMPLES = (
    "iti_090813_diverse.pcap",
    "iti_JavaRMI_and_IEC_Misc.pcap",
    "iti_TestDissectIec104.pcap",
    "otwire_imb_hub.pcap",
    "otwire_i3x.pcap",
    "otwire_xmpp_c2s.pcap",
)

__all__ = [
    "GZIP_MAGIC",
    "READ_ERRORS",
    "SAMPLES",
    "CaptureInput",
    "Source",
    "Truncated",
    "hex_line",
    "input_name",
    "is_hex_text",
    "read_hex",
    "read_raw",
]

#: First two octets of a gzip member (RFC 1952, section 2.3.1).
GZIP_MAGIC: Final = b"\x1f\x8b"
_RAW_CHUNK: Final = 1 << 16
_HEX_LINE_MAX: Final = 1 << 20
#: What reading a damaged gzip stream raises besides OSError (gzip.BadGzipFile).
_DECOMPRESSION_ERRORS: Final = (EOFError, zlib.error, gzip.BadGzipFile)
#: What reading a capture's :attr:`Source.file` may raise (:meth:`Source.read_error` says what it means).
READ_ERRORS: Final = (OSError, *_DECOMPRESSION_ERRORS)


class Truncated(Exception):
    """Compressed data ended early or is corrupt; what was read before stands."""


#: A capture to read: a path, or a seekable binary file object (read from its first octet).
CaptureInput: TypeAlias = "str | os.PathLike[str] | IO[bytes]"


def input_name(capture: CaptureInput) -> str:
    """Return the name of a capture input: the path, or a file object's ``name`` (``"<file>"`` without one)."""
    if isinstance(capture, str | os.PathLike):
        return os.fsdecode(capture)
    return str(getattr(capture, "name", "<file>"))


class Source:
    """One open capture file, decompressed on the fly if it is gzip.

    Args:
        path: The file, or a seekable binary file object (rewound to its start; not closed).

    Raises:
        CaptureError: The file cannot be opened or read.
    """

    def __init__(self, path: CaptureInput) -> None:
        self.name = input_name(path)
        self._owned = isinstance(path, str | os.PathLike)
        try:
            self._raw: IO[bytes] = open(self.name, "rb") if self._owned else path  # type: ignore[assignment]  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise CaptureError(f"cannot open {self.name}: {exc.strerror or exc}") from exc
        try:
            self._raw.seek(0)
            self.compressed = self._raw.read(2) == GZIP_MAGIC
            self._raw.seek(0)
        except (OSError, ValueError) as exc:
            self.close()
            raise CaptureError(f"cannot read {self.name}: {getattr(exc, 'strerror', None) or exc}") from exc
        self.file = cast(IO[bytes], gzip.GzipFile(fileobj=self._raw, mode="rb")) if self.compressed else self._raw

    @property
    def position(self) -> int:
        """Octets read from disk so far (compressed octets for a gzip file)."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def read(self, size: int) -> bytes:
        """Return up to ``size`` octets (fewer at the end).

        Raises:
            CaptureError: The file cannot be read.
            Truncated: The compressed data ends early or is corrupt.
        """
        try:
            return self.file.read(size)
        except READ_ERRORS as exc:
            raise self.read_error(exc) from exc

    def read_error(self, exc: Exception) -> Truncated | CaptureError:
        """Return what :meth:`read` raises for an exception (one of :data:`READ_ERRORS`) of ``file.read``."""
        if isinstance(exc, _DECOMPRESSION_ERRORS):
            return Truncated(f"compressed data truncated or corrupt ({exc})")
        return CaptureError(f"cannot read {self.name}: {getattr(exc, 'strerror', None) or exc}")

    def readline(self, limit: int) -> bytes:
        """Return the next line (at most ``limit`` octets); errors as :meth:`read`."""
        try:
            return self.file.readline(limit)
        except _DECOMPRESSION_ERRORS as exc:
            raise Truncated(f"compressed data truncated or corrupt ({exc})") from exc
        except OSError as exc:
            raise CaptureError(f"cannot read {self.name}: {exc.strerror or exc}") from exc

    def rewind(self) -> None:
        """Go back to the first octet.

        Raises:
            CaptureError: The file cannot be read.
        """
        try:
            self.file.seek(0)
        except (OSError, *_DECOMPRESSION_ERRORS) as exc:
            raise CaptureError(f"cannot read {self.name}: {exc}") from exc

    def close(self) -> None:
        """Close the file (a file object given by the caller stays open)."""
        file = getattr(self, "file", self._raw)
        if file is not self._raw:
            file.close()
        if self._owned:
            self._raw.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def hex_line(line: bytes) -> bytes | None:
    """Return the octets of a hex dump line (empty for blank/comment), ``None`` if not hex."""
    text = line.split(b"#", 1)[0].translate(None, b" \t:\r\n")
    try:
        return bytes.fromhex(text.decode("ascii"))
    except ValueError:  # includes UnicodeDecodeError
        return None


def is_hex_text(source: Source) -> bool:
    """Whether every line of ``source`` (from where it is) is hex, blank or a comment.

    Raises:
        CaptureError: The file cannot be read.
    """
    try:
        while line := source.readline(_HEX_LINE_MAX):
            if len(line) == _HEX_LINE_MAX or hex_line(line) is None:
                return False
    except Truncated:
        return False
    return True


def read_hex(source: Source, stats: CaptureStats) -> Iterator[Record]:
    """Yield a hex dump as one pseudo flow, a :class:`Data` per line (a warning per bad line).

    Raises:
        CaptureError: The file cannot be read.
    """
    flow = Flow.pseudo(os.path.basename(source.name))
    started = False
    try:
        while line := source.readline(_HEX_LINE_MAX):
            stats.packets += 1
            if not stats.packets % 256:
                stats.advance(source.position)
            data = hex_line(line)
            if data is None:
                yield CaptureWarning(None, stats.packets, "line is not hex, skipped")
            elif data:
                if not started:
                    started = True
                    yield StreamStart(flow, 0.0, stats.packets)
                yield Data(flow, Sender.CLIENT, 0.0, data, stats.packets)
    except Truncated as exc:
        yield CaptureWarning(None, stats.packets + 1, str(exc))
    stats.advance(source.position)


def read_raw(source: Source, stats: CaptureStats) -> Iterator[Record]:
    """Yield a raw stream file as one pseudo flow, a :class:`Data` per 64 KiB chunk.

    Raises:
        CaptureError: The file cannot be read.
    """
    flow = Flow.pseudo(os.path.basename(source.name))
    try:
        while chunk := source.read(_RAW_CHUNK):
            stats.packets += 1
            stats.advance(source.position)
            if stats.packets == 1:
                yield StreamStart(flow, 0.0, stats.packets)
            yield Data(flow, Sender.CLIENT, 0.0, chunk, stats.packets)
    except Truncated as exc:
        yield CaptureWarning(None, stats.packets + 1, str(exc))
    stats.advance(source.position)
