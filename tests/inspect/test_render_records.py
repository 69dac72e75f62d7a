"""Record building and rendering: ``packet``/``stream`` keys, the frame column, ``record_values``."""

from __future__ import annotations

import io
import json
import re
from importlib import resources
from pathlib import Path

import pytest
from rich.console import Console

from otwire.cli import main
from otwire.codecs.iec104 import UFrame, UFunction, encode_apdu
from otwire.codecs.imb import SetClientInfo, encode_command
from otwire.inspect import read, record_values, row_json
from otwire.inspect.files import SAMPLES
from otwire.inspect.records import Flow, Row, Sender
from otwire.inspect.render import TableWriter, write_jsonl
from otwire.transports import Direction
from otwire.transports.record import PcapRecorder

SAMPLE_DIR = resources.files("otwire.inspect") / "samples"
ROW = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} +(\d+) +#(\d+) ")


@pytest.mark.parametrize("name", SAMPLES)
def test_record_values_are_the_json_record_without_source(name: str) -> None:
    with resources.as_file(SAMPLE_DIR / name) as path:
        rows = list(read(path))
    for row in rows:
        values = record_values(row)
        assert {"source": "f", **values} == row_json(row, "f")
        assert list(values)[:7] == ["time", "packet", "stream", "flow", "direction", "protocol", "kind"]
        assert values is not record_values(row)  # a fresh dict: callers may keep or change it


@pytest.mark.parametrize("name", SAMPLES)
def test_frame_and_stream_columns_match_the_json_packet_and_stream(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with resources.as_file(SAMPLE_DIR / name) as path:
        assert main(["inspect", "--no-summary", "--format", "jsonl", str(path)]) == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert main(["inspect", "--no-summary", str(path)]) == 0
        table = capsys.readouterr().out.splitlines()
    numbered = [(r["packet"], r["stream"]) for r in records if r["kind"] != "notice"]
    assert all(isinstance(p, int) and p >= 1 for p, _ in numbered)
    shown = [(int(m[1]), int(m[2])) for line in table if (m := ROW.match(line))]
    assert shown == [(p, s) for p, s in numbered if s is not None]
    streams = [s for _, s in numbered if s is not None]
    assert streams and sorted(set(streams)) == list(range(1, max(streams) + 1))  # numbered in order of appearance
    first_seen = list(dict.fromkeys(streams))
    assert first_seen == sorted(first_seen)


def test_streams_are_numbered_per_flow_in_order_of_their_first_record(tmp_path: Path) -> None:
    path = tmp_path / "two.pcap"
    with PcapRecorder(path) as recorder:
        a = recorder.session(("10.0.0.1", 50000), ("10.0.0.2", 2404), timestamp=1.0)
        b = recorder.session(("10.0.0.1", 50001), ("10.0.0.2", 2404), timestamp=1.5)
        b.record(Direction.OUT, encode_apdu(UFrame(UFunction.STARTDT_ACT)), timestamp=2.0)
        a.record(Direction.OUT, encode_apdu(UFrame(UFunction.TESTFR_ACT)), timestamp=3.0)
        b.record(Direction.IN, encode_apdu(UFrame(UFunction.STARTDT_CON)), timestamp=4.0)
    rows = [row for row in read(path) if row.kind == "apdu"]
    assert [(row.flow.client_port if row.flow else None, row.stream) for row in rows] == [
        (50001, 1),
        (50000, 2),
        (50001, 1),
    ]
    assert [record_values(row)["packet"] for row in rows] == [row.packet_number for row in rows]


def test_jsonl_stays_ascii_with_escapes_for_text_beyond_ascii(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "names.pcap"
    with PcapRecorder(path, local=("10.0.0.1", 50001), remote=("10.0.0.3", 4000)) as recorder:
        recorder.record(Direction.OUT, encode_command(SetClientInfo(owner_id=1, owner_name="Zürich ☃")), timestamp=2.0)
        recorder.record(Direction.OUT, encode_command(SetClientInfo(owner_id=2, owner_name="plain")), timestamp=3.0)
    assert main(["inspect", "--format", "jsonl", "--no-summary", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.isascii() for line in lines)
    assert "Z\\u00fcrich \\u2603" in lines[0]
    assert [json.loads(line) for line in lines] == [row_json(row, str(path)) for row in read(path)]


@pytest.mark.parametrize("batch", [1, 2, 256])
def test_jsonl_batches_give_the_lines_of_one_by_one(tmp_path: Path, batch: int) -> None:
    """Lines written ``batch`` at a time, a non-ASCII row among them, come out as written one by one."""
    path = tmp_path / "names.pcap"
    with PcapRecorder(path, local=("10.0.0.1", 50001), remote=("10.0.0.3", 4000)) as recorder:
        for k, name in enumerate(["a", "b", "Zürich", "c", "d"]):
            recorder.record(
                Direction.OUT, encode_command(SetClientInfo(owner_id=k, owner_name=name)), timestamp=2.0 + k
            )
    one, many = io.StringIO(), io.StringIO()
    write_jsonl(read(path), "x", one, batch=1)
    write_jsonl(read(path), "x", many, batch=batch)
    assert many.getvalue() == one.getvalue()
    assert [json.loads(line) for line in one.getvalue().splitlines()] == [row_json(row, "x") for row in read(path)]


def _warning_rows() -> list[Row]:
    flow = Flow("2001:db8::cd:1", 50000, "2001:db8::2", 2404)  # ":cd:" is also a rich emoji code
    return [Row("warning", 1.0, 1, flow, Sender.CLIENT, "iec104", message="[bold]not markup[/bold]", stream=1)]


def test_table_lines_are_written_as_they_are_without_colour() -> None:
    out = io.StringIO()
    table = TableWriter(Console(file=out, highlight=False, soft_wrap=True))
    table.header("capture :cd: [x].pcap")
    for row in _warning_rows():
        table.write(row)
    lines = out.getvalue().splitlines()
    assert lines[0] == "== capture :cd: [x].pcap"
    assert lines[1].startswith("time ")
    assert lines[2] == "stream #1: [2001:db8::cd:1]:50000 -> [2001:db8::2]:2404 (1970-01-01 UTC)"
    assert lines[3].endswith("WARNING [bold]not markup[/bold]")


def test_table_lines_keep_their_text_on_a_colour_console() -> None:
    out = io.StringIO()
    console = Console(file=out, highlight=False, soft_wrap=True, force_terminal=True, color_system="standard")
    table = TableWriter(console)
    table.header("capture :cd: [x].pcap")
    for row in _warning_rows():
        table.write(row)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert text.splitlines()[0] == "== capture :cd: [x].pcap"
    assert "[2001:db8::cd:1]:50000" in text and "\x1b[" in out.getvalue()
    assert text.splitlines()[3].endswith("WARNING [bold]not markup[/bold]")


class _Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


def test_jsonl_lines_are_written_one_then_in_doubling_batches() -> None:
    with resources.as_file(SAMPLE_DIR / SAMPLES[0]) as path:
        rows = list(read(path))
    assert len(rows) > 1 + 2 + 4 + 8 + 16 + 16
    single, batched = _Writes(), _Writes()
    write_jsonl(rows, "f", single)
    write_jsonl(rows, "f", batched, batch=16)
    assert batched.getvalue() == single.getvalue()
    assert all(call.count("\n") == 1 for call in single.calls)
    sizes = [call.count("\n") for call in batched.calls]
    assert sizes[:6] == [1, 2, 4, 8, 16, 16] and max(sizes) == 16 and sum(sizes) == len(rows)
