"""Drive dissectors over a capture: records in, rows out (capture order).

One :class:`~otwire.inspect.model.Dissector` per TCP conversation, chosen by the server
port through :mod:`otwire.registry`; it sees both directions. A gap makes the dissector
end that sender's stream (what was buffered is reported as junk first) and a new
stream on the same flow replaces the dissector, so one bad stretch never hides the
frames after it.

Hex dumps and raw streams carry no port, so they are decoded only as a protocol named
explicitly (``proto``). When nothing at all is decoded, a last ``notice`` row says why
(empty file, no packets, no traffic on the followed ports and which ports were seen, or
traffic that did not decode) and what to try.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from functools import cache
from typing import IO, Any, TypeAlias, cast

from otwire import registry
from otwire.errors import InvalidArgument, InvalidArgumentType
from otwire.inspect.capture import (
    CaptureError,
    CaptureKind,
    CaptureStats,
    CaptureWarning,
    Data,
    Flow,
    FlowEvicted,
    Gap,
    Retransmission,
    Sender,
    StreamEnd,
    StreamStart,
    capture_kind,
    capture_size,
    read_plain,
)
from otwire.inspect.fields import known_fields
from otwire.inspect.fields import record_values as flat_values
from otwire.inspect.files import CaptureInput, input_name
from otwire.inspect.filter import compile_filter
from otwire.inspect.model import Dissector, Finding, ProtocolView
from otwire.inspect.records import SENDERS, Row, RowKind, record_values, row_json

__all__ = [
    "Found",
    "Part",
    "RecordFilter",
    "Row",
    "RowKind",
    "check_input",
    "check_ports",
    "default_ports",
    "dissect",
    "dissect_parts",
    "found_rows",
    "new_dissector",
    "read",
    "record_values",
    "row_json",
    "rows_of",
    "view",
]


def default_ports() -> dict[int, str]:
    """Return server port -> protocol for every protocol's default port (see :mod:`otwire.registry`)."""
    return registry.default_ports()


#: A predicate over a record's values by JSON key (:func:`record_values`).
RecordFilter: TypeAlias = Callable[[Mapping[str, object]], bool]


def read(
    path_or_file: CaptureInput,
    *,
    ports: Mapping[int, str] | None = None,
    filter: RecordFilter | str | None = None,  # noqa: A002 - the tshark word, as -Y/--filter
    proto: str | None = None,
) -> Iterator[Row]:
    """Yield the records of a capture, decoded: the rows ``otwire inspect`` prints, in capture order.

    Example::

        import otwire.inspect

        def measured(values):  # values by JSON key, as record_values(row) gives them
            return values.get("type") == "M_ME_NC_1" and values["common_address"] == 3

        for row in otwire.inspect.read("capture.pcap", ports={2405: "iec104"}, filter=measured):
            print(row.packet_number, row.stream, row.finding.message)

    Args:
        path_or_file: pcap or pcapng, or with ``proto`` a hex dump or raw stream;
            gzip-compressed or not. A path, or a binary file object read from its first
            octet (one that cannot seek is first copied to a temporary file).
        ports: Server port -> protocol name, followed besides every protocol's default
            port (as ``--port PROTO:PORT``).
        filter: Keep only the records for which this predicate, given
            :func:`record_values` of the record (a mapping of JSON keys), is true; or a
            display filter expression as ``-Y`` takes (``'ioa in {1300 1301}'``), over the
            flat view :func:`otwire.inspect.fields.record_values`.
        proto: The protocol of a hex dump or raw stream (as ``--proto``).

    Returns:
        The rows (:class:`Row`), in capture order; :func:`row_json` gives the JSON object of one.

    Raises:
        CaptureError: The file cannot be read, or is a hex dump or raw stream without ``proto``.
        FilterError: ``filter`` is a bad display filter expression (before any record).
        InvalidArgument: A protocol name is unknown, or a port is not in 1..65535.
        InvalidArgumentType: ``ports`` is not a mapping of int ports, or ``filter`` is
            neither a callable nor a string.
    """
    keep = _keep(filter, input_name(path_or_file))
    followed = {**default_ports(), **check_ports(ports or {})}
    return _read(path_or_file, followed, proto, keep)


def _read(
    capture: CaptureInput, ports: Mapping[int, str], proto: str | None, keep: Callable[[Row], bool] | None
) -> Iterator[Row]:
    with ExitStack() as stack:
        if not isinstance(capture, str | os.PathLike) and not capture.seekable():
            spool = stack.enter_context(tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY))
            shutil.copyfileobj(capture, spool)
            capture = cast(IO[bytes], spool)
        rows = dissect(capture, ports, proto=proto)
        if keep is None:
            yield from rows
        else:
            yield from filter(keep, rows)


#: Octets of an unseekable file object held in memory before the copy goes to disk.
_SPOOL_IN_MEMORY = 1 << 24


def _keep(filter: RecordFilter | str | None, source: str) -> Callable[[Row], bool] | None:  # noqa: A002
    """Return the row predicate ``filter`` stands for.

    A callable is given :func:`record_values` of each row; a display filter expression is
    compiled by :func:`otwire.inspect.filter.compile_filter` and reads the flat view
    :func:`otwire.inspect.fields.record_values` (``ioa``, ``event_name`` ... at the top, as ``-Y``).

    Raises:
        FilterError: A bad display filter expression.
        InvalidArgumentType: ``filter`` is neither a callable nor a string.
    """
    if filter is None:
        return None
    if callable(filter):
        predicate = filter
        return lambda row: predicate(record_values(row))
    if isinstance(filter, str):
        compiled = compile_filter(filter, known_fields())
        return lambda row: compiled(flat_values(row, source))
    raise InvalidArgumentType(f"filter={filter!r} must be a callable taking a record's values, or a string")


def check_input(path: CaptureInput, proto: str | None = None) -> CaptureKind:
    """Return the kind of a capture file after checking that it can be dissected.

    Args:
        path: The file.
        proto: The protocol of a hex dump or raw stream (``None``: refuse them).

    Raises:
        CaptureError: The file cannot be read, or is a hex dump or raw stream (not
            empty) and ``proto`` is ``None``.
        InvalidArgument: ``proto`` is not a known protocol.
    """
    if proto is not None:
        registry.get_dissectable(proto)
    kind = capture_kind(path)
    if kind in ("hex", "raw") and proto is None and capture_size(path):
        names = "|".join(registry.dissectable())
        raise CaptureError(
            f"{input_name(path)}: not a pcap or pcapng capture; to decode it as a "
            f"{'hex dump' if kind == 'hex' else 'raw stream'} of one protocol, name it (--proto {names})"
        )
    return kind


def dissect(
    path: CaptureInput,
    ports: Mapping[int, str],
    *,
    proto: str | None = None,
    stats: CaptureStats | None = None,
) -> Iterator[Row]:
    """Dissect every stream of a capture file.

    Args:
        path: pcap or pcapng, or with ``proto`` a hex dump (one frame per line) or raw
            stream; gzip-compressed or not.
        ports: server port -> protocol name (a key of :data:`otwire.registry.PROTOCOLS`).
        proto: The protocol of a hex dump or raw stream.
        stats: Filled in while reading (its ``progress`` callback follows the octets read).

    Raises:
        CaptureError: the file cannot be read, or is a hex dump or raw stream without ``proto``.
        InvalidArgument: a protocol name is unknown, or a port is not in 1..65535.
        InvalidArgumentType: ``ports`` is not a mapping of int ports.
    """
    return rows_of(dissect_parts(path, ports, proto=proto, stats=stats))


def dissect_parts(
    path: CaptureInput,
    ports: Mapping[int, str],
    *,
    proto: str | None = None,
    stats: CaptureStats | None = None,
) -> Iterator[Part]:
    """:func:`dissect`'s rows in parts: the findings of a segment as one :data:`Found`, the other rows in lists.

    For a consumer that handles a segment's findings at once (``--format jsonl``) and
    needs no :class:`Row` for most of them. Arguments and errors as :func:`dissect`.
    """
    check_ports(ports)
    kind = check_input(path, proto)
    stats = stats or CaptureStats()
    records = read_plain(path, list(ports), stats=stats)
    kinds: Counter[str] = Counter()
    yield from stream_parts(records, _Streams(ports, proto or "", per_record=kind == "hex"), kinds)
    if not kinds["apdu"]:
        yield [Row("notice", None, None, message=_notice(path, kind, ports, proto, stats, kinds))]


#: The findings of one segment in their context: ``(timestamp, packet number, flow, sender,
#: protocol, stream number, findings)``; :func:`found_rows` gives its rows.
Found: TypeAlias = tuple[float | None, int, Flow, Sender, str, int, list[Finding]]
#: A part of the rows of a capture: a segment's :data:`Found`, or rows.
Part: TypeAlias = Found | list[Row]


def found_rows(found: Found) -> list[Row]:
    """The rows of a segment's findings (each finding's own sender, where it names one, else the segment's)."""
    ts, n, flow, s, protocol, number, findings = found
    return [Row(f.kind, ts, n, flow, f.sender or s, protocol, f, 0, 0, "", number) for f in findings]


def rows_of(parts: Iterable[Part]) -> Iterator[Row]:
    """The rows of ``parts``, in order."""
    for part in parts:
        yield from part if isinstance(part, list) else found_rows(part)


def stream_rows(records: Iterable[Any], state: _Streams, kinds: Counter[str]) -> Iterator[Row]:
    """The rows of ``records`` (capture order) through ``state``, then its end rows; ``kinds`` counts them.

    ``kinds`` counts the rows by kind up to the first ``apdu`` row (see :func:`stream_parts`).
    """
    return rows_of(stream_parts(records, state, kinds))


def stream_parts(records: Iterable[Any], state: _Streams, kinds: Counter[str]) -> Iterator[Part]:
    """:func:`stream_rows` in parts (:data:`Part`): a segment's findings as one :data:`Found`.

    ``kinds`` counts the rows by kind up to the part with the first ``apdu`` row, then stops
    (``kinds["apdu"]`` says one was seen): all that the notice of a capture without any needs.
    """
    part_of, data, other = state.part, state.data, state.record
    counting = not kinds["apdu"]
    for record in records:
        kind = type(record)
        part = part_of(*record) if kind is tuple else data(record) if kind is Data else other(record)
        if part:
            if counting:
                for each in part if isinstance(part, list) else part[6]:
                    kinds[each.kind] += 1
                counting = not kinds["apdu"]
            yield part
    rows = state.finish()
    if rows:
        if counting:
            kinds.update(row.kind for row in rows)
        yield rows


def _notice(
    path: CaptureInput,
    kind: CaptureKind,
    ports: Mapping[int, str],
    proto: str | None,
    stats: CaptureStats,
    kinds: Counter[str],
) -> str:
    """Say why nothing was decoded, and what to try."""
    if not capture_size(path):
        return f"empty file; the right one? record a session with {_RECORD_HINT}"
    if kind in ("hex", "raw"):
        return f"nothing decoded as {proto} ({_problems(kinds)}); another protocol? (--proto NAME)"
    return traffic_notice(ports, stats, kinds)


def traffic_notice(ports: Mapping[int, str], stats: CaptureStats, kinds: Counter[str]) -> str:
    """Say why nothing was decoded in a packet capture (file, stdin or live), and what to try."""
    if not stats.packets:
        return f"no packets in this capture; was traffic flowing? record a session with {_RECORD_HINT}"
    if stats.segments:
        return f"nothing decoded ({_problems(kinds)}); another protocol on this port? (--port PROTO:PORT)"
    followed = ", ".join(f"{name} on {port}" for port, name in sorted(ports.items()))
    if not stats.other_ports:
        return f"no TCP traffic in {stats.packets} packets; only TCP conversations are dissected (tcpdump -w F tcp)"
    seen = ", ".join(str(port) for port, _ in stats.other_ports.most_common(8))
    return f"no traffic on the followed ports ({followed}); TCP ports seen: {seen}; dissect one with --port PROTO:PORT"


#: How to get a capture, named in the notices about empty ones.
_RECORD_HINT = "`otwire serve iec104 --record F` or `otwire client iec104 HOST --record F`"


def check_ports(ports: object) -> Mapping[int, str]:
    """Return ``ports`` (server port -> protocol name) after checking it.

    Raises:
        InvalidArgumentType: Not a mapping, or a port that is not an int.
        InvalidArgument: A port outside 1..65535, or an unknown protocol name.
    """
    if not isinstance(ports, Mapping):
        raise InvalidArgumentType(f"ports={ports!r} must map a port (int) to a protocol name")
    for port, name in ports.items():
        if isinstance(port, bool) or not isinstance(port, int):
            raise InvalidArgumentType(f"ports: {port!r} is not a port number (int)")
        if not 1 <= port <= 0xFFFF:
            raise InvalidArgument(f"ports: {port} is not a TCP port (1..65535)")
        registry.get_dissectable(name)
    return ports


def _problems(kinds: Counter[str]) -> str:
    return f"{kinds['error']} decode errors, {kinds['junk']} junk stretches, {kinds['gap']} gaps"


#: What :class:`_Streams` keeps of the last flow: protocol, its dissector's feed, pseudo flow, stream number.
_Entry: TypeAlias = tuple[str, Callable[[Sender, bytes], Iterable[Finding]], bool, int | None]


class _Streams:
    """Per-flow dissectors and stream numbers; records in, rows out."""

    def __init__(self, ports: Mapping[int, str], default: str, per_record: bool) -> None:
        self._ports = ports
        self._default = default
        self._per_record = per_record  # hex dump: every line is a stream of its own
        self._open: dict[Flow, tuple[str, Dissector]] = {}
        self._numbers: dict[Flow, int] = {}  # stream numbers of the flows not evicted
        self._streams = 0
        self._flow: Flow | None = None  # the flow of the last Data record, whose entry is _entry
        self._entry: _Entry = ("", _no_feed, False, None)

    def record(self, record: Any) -> list[Row]:
        """Return the rows one capture record gives."""
        if type(record) is Data:
            return self.data(record)
        self._flow = None  # the records below may close the flow or number it
        out: list[Row] = []
        match record:
            case Gap(flow=flow, sender=s, timestamp=ts, missing=missing, packet_number=n):
                self._end(flow, s, ts, n, out)
                out.append(Row("gap", ts, n, flow, s, self._protocol(flow), missing=missing, stream=self._number(flow)))
            case Retransmission(flow=flow, sender=s, timestamp=ts, length=length, packet_number=n):
                protocol = self._protocol(flow)
                out.append(Row("retransmission", ts, n, flow, s, protocol, length=length, stream=self._number(flow)))
            case StreamStart(flow=flow, timestamp=ts, packet_number=n):
                self._close(flow, ts, n, out)
            case StreamEnd(flow=flow, sender=s, timestamp=ts, packet_number=n):
                self._end(flow, s, ts, n, out)
            case FlowEvicted(flow=flow, timestamp=ts, packet_number=n):
                self._close(flow, ts, n, out)
                self._numbers.pop(flow, None)
            case CaptureWarning(timestamp=ts, packet_number=n, message=message):
                out.append(Row("warning", ts, n, message=message))
        return out

    def data(self, record: Data) -> list[Row]:
        """Return the rows of a :class:`Data` record (what :meth:`record` returns for it)."""
        return self.segment(record.flow, record.sender, record.timestamp, record.data, record.packet_number)

    def segment(self, flow: Flow, s: Sender, timestamp: float, data: bytes, n: int) -> list[Row]:
        """Return the rows of ``Data(flow, s, timestamp, data, n)`` (a :data:`PlainData` tuple's fields)."""
        part = self.part(flow, s, timestamp, data, n)
        return [] if part is None else part if isinstance(part, list) else found_rows(part)

    def part(self, flow: Flow, s: Sender, timestamp: float, data: bytes, n: int) -> Part | None:
        """:meth:`segment`'s rows as one part: the findings as a :data:`Found` (``None``: no findings).

        In a hex dump (every line a stream of its own) the part is the rows, then the stream's end rows.
        """
        if flow is self._flow:  # the flow of the previous Data record, nothing in between
            protocol, feed, pseudo, number = self._entry
        else:
            entry = self._open.get(flow)
            if entry is None:
                entry = self._open[flow] = (protocol := self._protocol(flow), new_dissector(protocol))
            protocol, feed, pseudo = entry[0], entry[1].feed, flow.client_port == 0 and flow.server_port == 0
            number = self._numbers.get(flow)
            self._flow, self._entry = flow, (protocol, feed, pseudo, number)
        ts = None if pseudo else timestamp
        findings = feed(s, data)
        if type(findings) is not list:
            findings = list(findings)
        found: Found | None = None
        if findings:
            if number is None:
                number = self._number(flow)
                self._entry = (protocol, feed, pseudo, number)
            found = (ts, n, flow, s, protocol, number, findings)
        if not self._per_record:
            return found
        out = [] if found is None else found_rows(found)
        self._end(flow, s, ts, n, out)
        self._flow = None  # the end may have numbered the flow
        return out or None

    def finish(self) -> list[Row]:
        """Return the rows of every open flow's end (end of the capture)."""
        self._flow = None
        out: list[Row] = []
        for flow in list(self._open):
            self._close(flow, None, None, out)
        return out

    def _protocol(self, flow: Flow) -> str:
        return self._ports.get(flow.server_port, self._default)

    def _number(self, flow: Flow) -> int:
        number = self._numbers.get(flow)
        if number is None:
            self._streams += 1
            number = self._numbers[flow] = self._streams
        return number

    def _end(self, flow: Flow, s: Sender, ts: float | None, n: int | None, out: list[Row]) -> None:
        entry = self._open.get(flow)
        if entry is not None:
            self._rows(entry[1].end(s), ts, n, flow, s, entry[0], out)

    def _close(self, flow: Flow, ts: float | None, n: int | None, out: list[Row]) -> None:
        for s in SENDERS:
            self._end(flow, s, ts, n, out)
        self._open.pop(flow, None)

    def _rows(
        self,
        findings: Iterable[Finding],
        ts: float | None,
        n: int | None,
        flow: Flow,
        s: Sender,
        protocol: str,
        out: list[Row],
    ) -> list[Row]:
        number = self._numbers.get(flow)
        for finding in findings:
            if number is None:
                number = self._number(flow)
            out.append(Row(finding.kind, ts, n, flow, finding.sender or s, protocol, finding, 0, 0, "", number))
        return out


def _no_feed(sender: Sender, data: bytes) -> Iterable[Finding]:
    """The feed of :attr:`_Streams._entry` before any Data record."""
    return ()


@cache
def view(protocol: str) -> ProtocolView:
    """Return how ``protocol``'s messages are shown (from :mod:`otwire.registry`, imported once).

    Raises:
        InvalidArgument: The protocol is unknown or has no dissector.
    """
    loaded: ProtocolView = registry.load(str(registry.get_dissectable(protocol).view))
    return loaded


def new_dissector(protocol: str) -> Dissector:
    """Return a fresh dissector of ``protocol`` for one TCP conversation (from :mod:`otwire.registry`).

    Raises:
        InvalidArgument: The protocol is unknown.
    """
    factory: Callable[[], Dissector] = registry.load(str(registry.get_dissectable(protocol).dissector))
    return factory()
