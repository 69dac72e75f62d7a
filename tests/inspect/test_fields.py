"""-T fields -e and --format csv: the same values as the JSON records, flattened."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from otwire.cli import main
from otwire.inspect.dissect import default_ports, dissect
from otwire.inspect.fields import CSV_COLUMNS, cell, known_fields, record_values

SAMPLE_DIR = resources.files("otwire.inspect") / "samples"


@pytest.fixture
def diverse() -> Iterator[Path]:
    with resources.as_file(SAMPLE_DIR / "iti_090813_diverse.pcap") as path:
        yield path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def _jsonl(capsys: pytest.CaptureFixture[str], path: Path) -> list[dict[str, object]]:
    _, out = run(capsys, "inspect", str(path), "--format", "jsonl", "--no-summary")
    return [json.loads(line) for line in out.splitlines()]


def _ioas(record: dict[str, object]) -> str:
    objects = record.get("objects") or []
    assert isinstance(objects, list)
    return ",".join(str(o["ioa"]) for o in objects)


def test_fields_are_tab_separated_with_an_optional_header(capsys: pytest.CaptureFixture[str], diverse: Path) -> None:
    expected = [r for r in _jsonl(capsys, diverse) if r.get("format") == "I"]
    argv = ("inspect", str(diverse), "-Y", 'format == "I"', "-T", "fields", "-e", "packet", "-e", "type", "-e", "ioa")
    code, out = run(capsys, *argv, "-E", "header=y")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "packet\ttype\tioa"
    assert lines[1:] == [f"{r['packet']}\t{r['type']}\t{_ioas(r)}" for r in expected]
    _, plain = run(capsys, *argv, "-E", "separator=/s", "-E", "aggregator=;")
    assert plain.splitlines() == [f"{r['packet']} {r['type']} {_ioas(r).replace(',', ';')}" for r in expected]


def test_e_alone_means_fields(capsys: pytest.CaptureFixture[str], diverse: Path) -> None:
    code, out = run(capsys, "inspect", str(diverse), "-e", "kind", "-c", "2")
    assert code == 0 and out.splitlines() == ["apdu", "apdu"]


def test_csv_has_a_header_and_the_json_values(capsys: pytest.CaptureFixture[str], diverse: Path) -> None:
    expected = _jsonl(capsys, diverse)
    code, out = run(capsys, "inspect", str(diverse), "--format", "csv", "--no-summary")
    table = list(csv.reader(io.StringIO(out)))
    assert code == 0 and tuple(table[0]) == CSV_COLUMNS
    assert len(table) == len(expected) + 1
    for line, record in zip(table[1:], expected, strict=True):
        row = dict(zip(CSV_COLUMNS, line, strict=True))
        assert row["packet"] == str(record["packet"]) and row["kind"] == record["kind"]
        assert row["type"] == str(record.get("type") or "")
        assert row["ioa"] == _ioas(record)
    _, chosen = run(capsys, "inspect", str(diverse), "--format", "csv", "-e", "flow", "-e", "cot", "-c", "1")
    assert chosen.splitlines()[0] == "flow,cot"


def test_record_values_flattens_nested_keys_into_occurrences(diverse: Path) -> None:
    rows = [r for r in dissect(diverse, default_ports()) if r.kind == "apdu"]
    two = next(r for r in rows if r.finding and len(getattr(r.finding.message, "asdu", None).objects or ()) == 2)
    values = record_values(two, "x")
    assert values["ioa"] == [1300, 1301] and values["element"] == ["R32", "QDS", "R32", "QDS"]
    assert values["source"] == "x" and values["type"] == "M_ME_NC_1"
    assert set(values) <= set(known_fields())


def test_every_field_of_the_bundled_captures_is_known() -> None:
    for name in (
        "iti_JavaRMI_and_IEC_Misc.pcap",
        "otwire_imb_hub.pcap",
        "otwire_i3x.pcap",
        "iti_TestDissectIec104.pcap",
    ):
        with resources.as_file(SAMPLE_DIR / name) as path:
            for row in dissect(path, default_ports()):
                unknown = set(record_values(row, name)) - set(known_fields())
                assert not unknown, (name, unknown)


def test_cells() -> None:
    assert cell(None) == "" and cell(True) == "true" and cell([1, [2, 3]], ";") == "1;2;3" and cell(1.5) == "1.5"


def test_nested_keys_by_path_and_top_level_names_not_merged(diverse: Path) -> None:
    """A nested key is there by its path; its bare name only where no top-level key has the name."""
    from otwire.inspect.filter import compile_filter

    with resources.as_file(SAMPLE_DIR / "otwire_xmpp_c2s.pcap") as path:
        rows = [r for r in dissect(path, default_ports()) if r.kind == "apdu"]
    readout = next(values for r in rows if (values := record_values(r, "x"))["element"] == "fields")
    assert readout["type"] == "normal" and readout["fields.type"] == "numeric"  # stanza type, field type apart
    assert compile_filter('type == "normal" and fields.type == "numeric"', known_fields())(readout)
    assert not compile_filter('type != "normal"', known_fields())(readout)
    timed = next(
        values
        for r in dissect(diverse, default_ports())
        if r.kind == "apdu" and "objects.elements.raw" in (values := record_values(r, "x"))
    )
    assert isinstance(timed["raw"], str)  # the frame's octets only; the time tags' are by path
    assert timed["objects.ioa"] == timed["ioa"] and timed["objects.elements.element"] == timed["element"]


def test_fields_by_path_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with resources.as_file(SAMPLE_DIR / "otwire_xmpp_c2s.pcap") as path:
        code, out = run(capsys, "inspect", str(path), "-Y", 'element == "fields"', "-T", "fields",
                        "-e", "type", "-e", "fields.type", "-e", "fields.name")  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines and all(line.split("\t")[:2] == ["normal", "numeric"] for line in lines), lines
