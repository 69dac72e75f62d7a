"""``otwire inspect --format parquet -w DIR``: records as Parquet files for DuckDB and Spark.

One table per protocol, Hive-partitioned by capture file::

    DIR/iec104/capture=iti_090813_diverse.pcap/part-0.parquet
    DIR/imb/capture=otwire_imb_hub.pcap/part-0.parquet
    DIR/capture_notes/capture=.../part-0.parquet    (warnings and notices, no protocol)

The columns and their types are documented in ``specs/inspect/parquet.md`` and defined in
:mod:`otwire.inspect._parquet_schema`; every file's metadata holds ``otwire.schema_version``.
Rows are buffered per table and written as one Arrow record batch (one Parquet row group)
every ``batch_rows`` rows, so memory stays bounded whatever the capture's size.

pyarrow is an optional dependency (``pip install 'otwire[parquet]'``): it is large (a 55 MB
wheel, 170 MB installed), and only this writer needs it, so the rest of ``otwire`` never imports it.
"""

from __future__ import annotations

import importlib
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from otwire.errors import InvalidArgument, InvalidState
from otwire.inspect._parquet_schema import SCHEMA_VERSION, Columns, TypeCode, columns_of, rows_of, table_of
from otwire.inspect.dissect import RecordFilter, read
from otwire.inspect.records import Row

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_FILE_ROWS",
    "SCHEMA_VERSION",
    "ParquetSummary",
    "write_captures",
    "write_parquet",
]

#: Rows buffered per table before they are written as one record batch (one row group).
DEFAULT_BATCH_ROWS = 65_536
#: Rows per ``part-N.parquet`` file before the next part starts.
DEFAULT_FILE_ROWS = 4_194_304
#: The name given to the capture of records passed directly (not as paths), unless ``capture`` says.
RECORDS_CAPTURE = "records"
#: Characters escaped (``%XX``) in a partition directory name, as Hive and Spark do.
_ESCAPED = set("\"#%'*/:=?\\{[]^") | {chr(c) for c in range(0x20)} | {"\x7f"}


@dataclass(slots=True)
class ParquetSummary:
    """What :func:`write_parquet` wrote.

    Attributes:
        files: The Parquet files written, in the order they were finished.
        rows: Table name -> rows written.
        records: Records read (one IEC 104 record gives a row per information object).
        batches: Record batches (row groups) written, over all tables.
        peak_buffered_rows: The most rows held in memory at once, over all tables.
        buffered_rows: Rows held in memory now (0 once :func:`write_parquet` returned).
    """

    files: list[Path] = field(default_factory=list)
    rows: Counter[str] = field(default_factory=Counter)
    records: int = 0
    batches: int = 0
    peak_buffered_rows: int = 0
    buffered_rows: int = 0


def write_parquet(
    records_or_paths: Iterable[Row] | Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    capture: str | None = None,
    ports: Mapping[int, str] | None = None,
    filter: RecordFilter | str | None = None,  # noqa: A002 - as otwire.inspect.read
    proto: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    file_rows: int = DEFAULT_FILE_ROWS,
) -> ParquetSummary:
    """Write records as Parquet tables under ``out_dir``, one partition per capture file.

    Example::

        from otwire.inspect.parquet import write_parquet

        write_parquet(["day1.pcap", "day2.pcap"], "out")  # out/iec104/capture=day1.pcap/part-0.parquet ...

    A capture written again replaces its earlier partition (its ``part-*.parquet`` files
    in every table); two inputs with the same file name get ``capture=NAME`` and
    ``capture=NAME~2``. Files are written as ``part-N.parquet.tmp`` and renamed when complete.

    Args:
        records_or_paths: Capture paths (one path or several), read with
            :func:`otwire.inspect.read`; or records (:class:`Row`) from it, written as one
            capture called ``capture``.
        out_dir: The folder of the tables (created if missing).
        capture: The capture name of records passed directly (default ``"records"``).
        ports: As :func:`otwire.inspect.read` (paths only).
        filter: As :func:`otwire.inspect.read` (paths only).
        proto: As :func:`otwire.inspect.read` (paths only).
        batch_rows: Rows per record batch and row group, 1..1,048,576.
        file_rows: Rows per part file, at least ``batch_rows``.

    Returns:
        What was written.

    Raises:
        InvalidState: pyarrow is not installed.
        InvalidArgument: ``batch_rows`` or ``file_rows`` out of range, or as :func:`otwire.inspect.read`.
        CaptureError: As :func:`otwire.inspect.read`.
        OSError: ``out_dir`` or a file in it cannot be written.
    """
    captures = _captures(records_or_paths, capture, ports, filter, proto)
    return write_captures(captures, out_dir, batch_rows=batch_rows, file_rows=file_rows)


def write_captures(
    captures: Iterable[tuple[str, Iterable[Row]]],
    out_dir: str | os.PathLike[str],
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    file_rows: int = DEFAULT_FILE_ROWS,
) -> ParquetSummary:
    """Write the records of each capture as Parquet tables under ``out_dir`` (what :func:`write_parquet` does).

    For callers that read the captures themselves (``otwire inspect`` with ``-Y`` and ``-c``).

    Args:
        captures: (source, records) per capture, in order; the partition is
            ``capture=<file name of source>``, and the ``source`` column is ``source``.
        out_dir: The folder of the tables (created if missing).
        batch_rows: Rows per record batch and row group, 1..1,048,576.
        file_rows: Rows per part file, at least ``batch_rows``.

    Returns:
        What was written.

    Raises:
        InvalidState: pyarrow is not installed.
        InvalidArgument: ``batch_rows`` or ``file_rows`` out of range.
        OSError: ``out_dir`` or a file in it cannot be written.
    """
    if not 1 <= batch_rows <= 1 << 20 or file_rows < batch_rows:
        message = f"batch_rows must be in 1..1048576 and file_rows >= batch_rows, not {batch_rows}, {file_rows}"
        raise InvalidArgument(message)
    arrow = _Arrow.load()
    summary = ParquetSummary()
    root = Path(out_dir)
    names: Counter[str] = Counter()
    for source, rows in captures:
        name = Path(source).name or source
        names[name] += 1
        partition = _partition(name if names[name] == 1 else f"{name}~{names[name]}")
        _clear(root, partition)
        _write_capture(arrow, rows, source, root, partition, (batch_rows, file_rows), summary)
    return summary


def _captures(
    given: Any, capture: str | None, ports: Any, keep: Any, proto: str | None
) -> Iterator[tuple[str, Iterable[Row]]]:
    """Yield (source, records) for each capture of ``given``."""
    if isinstance(given, str | os.PathLike):
        given = [given]
    items = iter(given)
    first = next(items, None)
    if first is None:
        return
    if isinstance(first, Row):
        yield capture or RECORDS_CAPTURE, chain([first], items)
        return
    for path in chain([first], items):
        yield os.fspath(path), read(path, ports=ports, filter=keep, proto=proto)


def _write_capture(
    arrow: _Arrow, rows: Iterable[Row], source: str, root: Path, partition: str,
    limits: tuple[int, int], summary: ParquetSummary,
) -> None:  # fmt: skip
    tables: dict[str, _TableWriter] = {}
    try:
        for number, row in enumerate(rows, 1):
            summary.records += 1
            name = table_of(row)
            table = tables.get(name)
            if table is None:
                table = tables[name] = _TableWriter(arrow, root / name / partition, name, limits, summary)
            for values in rows_of(row, source, number):
                table.add(values)
    finally:
        for table in tables.values():
            table.close()


class _TableWriter:
    """One table's rows of one capture: buffered, flushed as one record batch every ``batch_rows``."""

    def __init__(
        self, arrow: _Arrow, folder: Path, name: str, limits: tuple[int, int], summary: ParquetSummary
    ) -> None:
        self._arrow, self._folder, self._summary = arrow, folder, summary
        self._batch_rows, self._file_rows = limits
        self._columns: Columns = columns_of(name)
        self._schema = arrow.schema(self._columns, {"otwire.table": name, "otwire.capture": folder.name})
        self._buffer: list[dict[str, Any]] = []
        self._table = name
        self._writer: Any = None
        self._part = 0
        self._part_rows = 0

    def add(self, values: dict[str, Any]) -> None:
        """Buffer one row (column -> value; absent columns are null)."""
        buffer = self._buffer
        buffer.append(values)
        summary = self._summary
        summary.rows[self._table] += 1
        summary.buffered_rows += 1
        summary.peak_buffered_rows = max(summary.peak_buffered_rows, summary.buffered_rows)
        if len(buffer) >= self._batch_rows:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one record batch (one row group)."""
        buffered = len(self._buffer)
        if not buffered:
            return
        batch = self._arrow.pa.RecordBatch.from_pylist(self._buffer, schema=self._schema)
        if self._writer is None:
            self._folder.mkdir(parents=True, exist_ok=True)
            self._writer = self._arrow.writer(self._part_path(".tmp"), self._schema)
        self._writer.write_batch(batch)
        self._summary.batches += 1
        self._part_rows += buffered
        self._summary.buffered_rows -= buffered
        self._buffer.clear()
        if self._part_rows >= self._file_rows:
            self._finish_part()

    def close(self) -> None:
        """Flush, then finish the current part file."""
        self.flush()
        if self._writer is not None:
            self._finish_part()

    def _finish_part(self) -> None:
        self._writer.close()
        self._writer = None
        final = self._part_path("")
        self._part_path(".tmp").replace(final)
        self._summary.files.append(final)
        self._part += 1
        self._part_rows = 0

    def _part_path(self, suffix: str) -> Path:
        return self._folder / f"part-{self._part}.parquet{suffix}"


class _Arrow:
    """pyarrow, imported on first use, and the Arrow types of the schema's type codes."""

    def __init__(self, pa: Any, pq: Any) -> None:
        self.pa, self.pq = pa, pq
        self.types: dict[TypeCode, Any] = {
            "str": pa.string(),
            "i16": pa.int16(),
            "i32": pa.int32(),
            "i64": pa.int64(),
            "f64": pa.float64(),
            "bool": pa.bool_(),
            "bin": pa.binary(),
            "strs": pa.list_(pa.string()),
            "json": pa.string(),
            "utc_us": pa.timestamp("us", tz="UTC"),
            "local_ms": pa.timestamp("ms"),
        }

    @classmethod
    def load(cls) -> _Arrow:
        """Return the pyarrow modules.

        Raises:
            InvalidState: pyarrow is not installed.
        """
        try:
            pa = importlib.import_module("pyarrow")  # optional, imported only here (and untyped)
            pq = importlib.import_module("pyarrow.parquet")
        except ImportError:
            raise InvalidState("Parquet output needs pyarrow: pip install 'otwire[parquet]'") from None
        return cls(pa, pq)

    def schema(self, columns: Columns, metadata: dict[str, str]) -> Any:
        fields = [self.pa.field(name, self.types[code]) for name, code in columns]
        return self.pa.schema(fields, metadata={"otwire.schema_version": SCHEMA_VERSION, **metadata})

    def writer(self, path: Path, schema: Any) -> Any:
        return self.pq.ParquetWriter(str(path), schema, compression="zstd")


def _partition(name: str) -> str:
    """Return the Hive partition folder of a capture: ``capture=NAME``, special characters as ``%XX``."""
    return "capture=" + "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in name)


def _clear(root: Path, partition: str) -> None:
    """Remove the part files an earlier run wrote for this capture, in every table."""
    if root.is_dir():
        for folder in root.iterdir():
            for old in (folder / partition).glob("part-*.parquet*"):
                old.unlink()
