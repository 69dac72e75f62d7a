"""``otwire.inspect.parquet``: Parquet equal to jsonl, bounded batches, the README's DuckDB query."""

from __future__ import annotations

import io
import json
import math
import re
import struct
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from otwire.codecs.iec104.elements import DoublePoint
from otwire.errors import InvalidArgument, InvalidState
from otwire.inspect import parquet as parquet_module
from otwire.inspect import read
from otwire.inspect._parquet_schema import SCHEMA_VERSION, TABLES, columns_of
from otwire.inspect.parquet import write_parquet
from otwire.inspect.records import Row
from otwire.inspect.render import write_jsonl

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SAMPLES = resources.files("otwire.inspect") / "samples"
README = Path(__file__).resolve().parents[2] / "README.md"
#: Columns computed from the elements (checked on their own, not part of the jsonl record).
DERIVED = ("object_index", "value", "value_element", "quality", "time_tag")
#: The keys of an XEP-0323 field (its ``field_<key>`` columns).
FIELD_KEYS = ["field_node", "field_timestamp", "field_name", "field_type", "field_value"]


def samples(tmp_path: Path) -> list[Path]:
    paths = []
    for item in SAMPLES.iterdir():
        if item.name.endswith(".pcap"):
            path = tmp_path / item.name
            path.write_bytes(item.read_bytes())
            paths.append(path)
    return sorted(paths)


def jsonl(paths: list[Path]) -> list[dict[str, Any]]:
    out = io.StringIO()
    for path in paths:
        write_jsonl(read(path), str(path), out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def table_rows(out: Path) -> list[dict[str, Any]]:
    """Every row of every table under ``out``, with its ``capture`` partition value."""
    rows = []
    for file in sorted(out.glob("*/capture=*/part-*.parquet")):
        capture = file.parent.name.removeprefix("capture=")
        rows += [dict(row, capture=capture) for row in pq.read_table(file, partitioning=None).to_pylist()]
    return rows


def as_jsonl(group: list[dict[str, Any]]) -> dict[str, Any]:
    """Rebuild the jsonl record of the Parquet rows of one record."""
    first = dict(group[0])
    for key in (*DERIVED, "ioa", "elements") if "object_index" in first else ():
        first.pop(key)
    del first["record"], first["capture"]
    if first["time"] is not None:
        first["time"] = first["time"].timestamp()
    for key in ("raw", "raw_information"):
        if first.get(key) is not None:
            first[key] = first[key].hex()
    for key in ("body", "fields", "code", "value"):
        if isinstance(first.get(key), str):
            first[key] = json.loads(first[key])
    first.update(json.loads(first.pop("extra") or "{}"))
    if group[0].get("ioa") is not None:
        first["objects"] = [{"ioa": row["ioa"], "elements": json.loads(row["elements"])} for row in group]
    if group[0].get("field_index") is not None:  # XEP-0323: one row per field
        first["fields"] = [{key.removeprefix("field_"): row[key] for key in FIELD_KEYS} for row in group]
        for key in [*FIELD_KEYS, "field_index"]:
            del first[key]
    elif first["protocol"] == "xmpp" and first["kind"] == "apdu":  # a stanza without fields
        first["fields"] = []
    if group[0].get("stanza_error") is not None:
        first["error"] = json.loads(first.pop("stanza_error"))
    return {key: value for key, value in first.items() if value is not None}


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in record.items() if value is not None}
    if out.get("time") is not None:
        out["time"] = round(out["time"] * 1e6) / 1e6
    return out


def test_parquet_holds_the_jsonl_records(tmp_path: Path) -> None:
    paths = samples(tmp_path)
    summary = write_parquet(paths, tmp_path / "out")
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in table_rows(tmp_path / "out"):
        groups[(row["source"], row["record"])].append(row)
    expected = jsonl(paths)
    assert summary.records == len(expected) == len(groups)
    numbered = Counter[str]()
    for record in expected:
        numbered[record["source"]] += 1
        group = groups[(record["source"], numbered[record["source"]])]
        group.sort(key=lambda r: r.get("object_index") or r.get("field_index") or 0)
        rebuilt = as_jsonl(group)
        rebuilt["time"] = round(rebuilt["time"] * 1e6) / 1e6
        assert rebuilt == comparable(record)
        assert group[0]["capture"] == Path(record["source"]).name
    assert {p.parent.parent.name for p in summary.files} == {record["protocol"] for record in expected}


def json_value(elements: list[dict[str, Any]]) -> float | None:
    """The number an object's elements carry, from the jsonl view (independent of the writer)."""
    for element in elements:
        for key in ("value", "spi", "dpi", "es", "dcs", "rcs", "scs", "counter"):
            if key in element:
                value = element[key]
                return float(DoublePoint[value].value if key == "dpi" else value)
    return None


def test_value_quality_and_time_tag_columns_follow_the_elements(tmp_path: Path) -> None:
    write_parquet(samples(tmp_path), tmp_path / "out")
    rows = [row for row in table_rows(tmp_path / "out") if row.get("ioa") is not None and row["type_id"] < 45]
    assert len(rows) > 100  # monitor direction (json_value knows its elements)
    tagged = 0
    for row in rows:
        elements = json.loads(row["elements"])
        expected = json_value(elements)
        if expected is None or row["value"] is None:
            assert expected is None and row["value"] is None, elements
        else:
            assert row["value"] == pytest.approx(expected) or (math.isnan(expected) and math.isnan(row["value"]))
        flags = [e["quality"] for e in elements if "quality" in e]
        assert row["quality"] == (flags[0] if flags else None) or elements[0]["element"] == "BCR"
        times = [e["iso"] for e in elements if e["element"] == "CP56Time2a"]
        if times and times[0] is not None:
            tagged += 1
            assert row["time_tag"] == datetime.fromisoformat(times[0]).replace(tzinfo=None)
    assert tagged > 0


def test_files_carry_the_schema_version_and_every_column(tmp_path: Path) -> None:
    summary = write_parquet(samples(tmp_path), tmp_path / "out")
    for file in summary.files:
        schema = pq.read_schema(file)
        table = file.parent.parent.name
        assert schema.metadata[b"otwire.schema_version"] == SCHEMA_VERSION.encode()
        assert schema.metadata[b"otwire.table"] == table.encode()
        assert schema.names == [name for name, _ in columns_of(table)]
    assert str(pq.read_schema(summary.files[0]).field("time").type) == "timestamp[us, tz=UTC]"


# --- bounded memory ------------------------------------------------------------------------


def iframe(ns: int, ca: int, values: tuple[float, ...]) -> bytes:
    """An M_ME_NC_1 I-frame with one object per value (IOA 100, 101, ...)."""
    objects = b"".join(struct.pack("<I", 100 + i)[:3] + struct.pack("<fB", v, 0) for i, v in enumerate(values))
    asdu = struct.pack("<BBBBH", 13, len(values), 3, 0, ca) + objects
    return bytes([0x68, 4 + len(asdu)]) + struct.pack("<HH", ns << 1, 0) + asdu


def big_capture(path: Path, apdus: int) -> Path:
    """One IEC 104 flow (no handshake), one I-frame of two objects per packet."""
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    seq = 1000
    for n in range(apdus):
        payload = iframe(n % 32768, 1 + n % 3, (float(n), float(n % 7)))
        tcp = struct.pack("!HHIIBBHHH", 2404, 40000, seq, 0, 0x50, 0x18, 65535, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0, b"\n\0\0\2", b"\n\0\0\1")
        frame = b"\2\0\0\0\0\1\2\0\0\0\0\2\x08\x00" + ip + tcp + payload
        parts.append(struct.pack("<IIII", 1_700_000_000 + n // 1000, n % 1000 * 1000, len(frame), len(frame)) + frame)
        seq += len(payload)
    path.write_bytes(b"".join(parts))
    return path


def test_a_large_capture_is_written_in_bounded_batches(tmp_path: Path) -> None:
    apdus, batch_rows = 6000, 1000
    capture = big_capture(tmp_path / "big.pcap", apdus)
    out = tmp_path / "out"
    seen: list[int] = []

    def records() -> Iterator[Row]:  # watches the output while the input is still being read
        for n, row in enumerate(read(capture), 1):
            if n == apdus:
                seen.append(len(list(out.glob("iec104/*/part-*.parquet"))))
            yield row

    summary = write_parquet(records(), out, capture="big", batch_rows=batch_rows, file_rows=4000)
    rows = 2 * apdus
    assert summary.rows["iec104"] == rows and summary.records == apdus
    assert summary.peak_buffered_rows <= batch_rows
    assert summary.batches == rows // batch_rows
    assert seen == [2]  # two finished parts were on disk before the last record was read
    metadata = [pq.ParquetFile(file).metadata for file in summary.files]
    groups = [m.row_group(i).num_rows for m in metadata for i in range(m.num_row_groups)]
    assert sum(groups) == rows and max(groups) <= batch_rows
    assert [f.name for f in summary.files] == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]


def test_batch_limits_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        write_parquet([], tmp_path, batch_rows=0)
    with pytest.raises(InvalidArgument):
        write_parquet([], tmp_path, batch_rows=100, file_rows=10)


def test_missing_pyarrow_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_module(name: str) -> object:
        raise ImportError(name)

    monkeypatch.setattr(parquet_module.importlib, "import_module", no_module)
    with pytest.raises(InvalidState, match=r"pip install 'otwire\[parquet\]'"):
        write_parquet(samples(tmp_path)[:1], tmp_path / "out")


def test_partitions_are_replaced_and_names_kept_apart(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = samples(tmp_path)[0]
    same = [tmp_path / "a" / "x=1.pcap", tmp_path / "b" / "x=1.pcap"]
    for path in same:
        path.write_bytes(first.read_bytes())
    out = tmp_path / "out"
    write_parquet(same, out, file_rows=65536, batch_rows=10)
    again = write_parquet(same, out)
    folders = sorted(p.parent.name for p in out.glob("iec104/*/*.parquet"))
    assert folders == ["capture=x%3D1.pcap", "capture=x%3D1.pcap~2"]
    assert sorted(again.files) == sorted(out.glob("*/*/*.parquet"))  # the 10-row parts of the first run are gone


# --- DuckDB: the README query --------------------------------------------------------------


def readme_query(out: Path) -> str:
    text = README.read_text()
    found = re.search(r"<!-- parquet-duckdb-query.*?-->\n```sql\n(.*?)```", text, re.DOTALL)
    assert found is not None
    return found[1].replace("'out/", f"'{out.as_posix()}/")


def changes_from_jsonl(records: list[dict[str, Any]]) -> Counter[tuple[int, int]]:
    """The README query's answer, computed in Python from the jsonl records."""
    last: dict[tuple[str, int, int], float] = {}
    changes: Counter[tuple[int, int]] = Counter()
    for record in records:
        if record.get("format") != "I" or record["type_id"] >= 45:
            continue
        for obj in record["objects"]:
            value = json_value(obj["elements"])
            key = (record["source"], record["common_address"], obj["ioa"])
            if value is not None and (key not in last or last[key] != value):
                changes[(record["common_address"], obj["ioa"])] += 1
            if value is not None:
                last[key] = value
    return changes


def test_readme_duckdb_query_counts_what_jsonl_says(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    paths = [*samples(tmp_path), big_capture(tmp_path / "generated.pcap", 300)]
    write_parquet(paths, tmp_path / "out")
    result = duckdb.connect().execute(readme_query(tmp_path / "out")).fetchall()
    expected = changes_from_jsonl(jsonl(paths))
    assert {(station, ioa): n for station, ioa, n in result} == expected
    assert len(expected) > 10 and max(expected.values()) > 1
    order = [(station, -n, ioa) for station, ioa, n in result]
    assert order == sorted(order)


def test_time_column_is_utc(tmp_path: Path) -> None:
    capture = big_capture(tmp_path / "one.pcap", 1)
    summary = write_parquet(capture, tmp_path / "out")
    (time,) = set(pq.read_table(summary.files[0], columns=["time"]).column("time").to_pylist())
    assert time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def spec_columns() -> dict[str, list[tuple[str, str]]]:
    """Table name -> (column, type code) rows of ``specs/inspect/parquet.md``."""
    text = (README.parent / "specs" / "inspect" / "parquet.md").read_text()
    tables: dict[str, list[tuple[str, str]]] = {}
    for title, body in re.findall(r"^## (.+?)\n(.*?)(?=^## |\Z)", text, re.DOTALL | re.MULTILINE):
        found = re.findall(r"^\| `(\w+)`\s*\| `(\w+)`\s*\|", body, re.MULTILINE)
        if found and title.startswith(("Table", "Columns of every")):
            tables[title.split("`")[1] if "`" in title else "common"] = found
    return tables


def test_the_spec_lists_every_column_and_type() -> None:
    documented = spec_columns()
    common = documented.pop("common")
    assert set(documented) == set(TABLES)
    for table, own in documented.items():
        assert [*common, *own, ("extra", "json")] == list(columns_of(table))
    assert [*common, ("extra", "json")] == list(columns_of("some_later_protocol"))


def test_values_without_a_fitting_column_are_kept_in_extra() -> None:
    from otwire.inspect._parquet_schema import _fit

    fitted = _fit({"type_id": 70000, "cot": 3, "sq": 1, "objects": [], "later_key": None, "ns": None}, "iec104")
    assert fitted["cot"] == 3 and "type_id" not in fitted and "ns" not in fitted
    assert json.loads(fitted["extra"]) == {"type_id": 70000, "sq": 1, "objects": [], "later_key": None}
    assert "extra" not in _fit({"cot": 3}, "iec104")
    assert json.loads(_fit({"cot": "x"}, "a_later_protocol")["extra"]) == {"cot": "x"}


def test_duckdb_reads_escaped_capture_names_back(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    capture = tmp_path / "site a=1.pcap"
    capture.write_bytes(samples(tmp_path)[0].read_bytes())
    write_parquet(capture, tmp_path / "out")
    files = f"{tmp_path.as_posix()}/out/*/*/*.parquet"
    query = f"SELECT DISTINCT capture FROM read_parquet('{files}', hive_partitioning = true)"
    assert duckdb.connect().execute(query).fetchall() == [("site a=1.pcap",)]
