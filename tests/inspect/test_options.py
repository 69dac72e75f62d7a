"""tshark-like options of otwire inspect: -r, stdin, -c, -Y, -w (round trip) and their errors."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from otwire.cli import main

SAMPLE_DIR = resources.files("otwire.inspect") / "samples"
DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def diverse() -> Iterator[Path]:
    with resources.as_file(SAMPLE_DIR / "iti_090813_diverse.pcap") as path:
        yield path


@pytest.fixture
def imb() -> Iterator[Path]:
    with resources.as_file(SAMPLE_DIR / "otwire_imb_hub.pcap") as path:
        yield path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def records(out: str, *drop: str) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in out.splitlines()]
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


class _Pipe(io.RawIOBase):
    """A non-seekable byte stream handing out at most 100 octets per read, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data[self._at : self._at + min(len(buffer), 100)]
        buffer[: len(chunk)] = chunk
        self._at += len(chunk)
        return len(chunk)

    def seek(self, *args: object) -> int:
        raise io.UnsupportedOperation("a pipe cannot seek")


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(_Pipe(data))))


def test_dash_r_is_the_positional_path(capsys: pytest.CaptureFixture[str], diverse: Path) -> None:
    code, by_path, _ = run(capsys, "inspect", str(diverse), "--format", "jsonl", "--no-summary")
    code_r, by_r, _ = run(capsys, "inspect", "-r", str(diverse), "--format", "jsonl", "--no-summary")
    assert code == code_r == 0
    assert by_r == by_path and len(by_path.splitlines()) > 80


@pytest.mark.parametrize("name", ["iti_090813_diverse.pcap", "otwire_imb_hub.pcap", "automayt_IEC104_SQ.pcapng"])
def test_stdin_gives_what_the_file_gives(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    with resources.as_file(SAMPLE_DIR / name) if (SAMPLE_DIR / name).is_file() else _path(DATA / name) as path:
        code, from_file, _ = run(capsys, "inspect", str(path), "--format", "jsonl", "--no-summary")
        _stdin(monkeypatch, path.read_bytes())
    code_stdin, from_stdin, _ = run(capsys, "inspect", "-", "--format", "jsonl", "--no-summary")
    assert code == code_stdin == 0
    assert records(from_stdin, "source") == records(from_file, "source")
    assert {r["source"] for r in records(from_stdin)} == {"-"}
    assert sum(r["kind"] == "apdu" for r in records(from_file)) > 3


class _path:  # a context manager giving a plain path, like resources.as_file
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        return None


def test_stdin_that_is_not_a_capture_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, b"68 04 07 00 00 00\n")
    code, out, err = run(capsys, "inspect", "-")
    assert code == 2 and out == ""
    assert "-: not a pcap or pcapng capture" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("count", [1, 5, 40])
def test_count_stops_after_n_records(capsys: pytest.CaptureFixture[str], diverse: Path, count: int) -> None:
    _, everything, _ = run(capsys, "inspect", str(diverse), "--format", "jsonl", "--no-summary")
    code, out, _ = run(capsys, "inspect", str(diverse), "--format", "jsonl", "--no-summary", "-c", str(count))
    assert code == 0
    assert out.splitlines() == everything.splitlines()[:count]


def test_count_spans_inputs_and_counts_filtered_records(
    capsys: pytest.CaptureFixture[str], diverse: Path, imb: Path
) -> None:
    argv = ("inspect", str(diverse), str(imb), "--format", "jsonl", "--no-summary")
    _, everything, _ = run(capsys, *argv, "-Y", 'kind == "apdu" and format != "S"')
    _, limited, _ = run(capsys, *argv, "-Y", 'kind == "apdu" and format != "S"', "-c", "3")
    kept = records(everything)
    assert kept and all(r["kind"] == "apdu" and r.get("format") != "S" for r in kept)
    assert limited.splitlines() == everything.splitlines()[:3]
    _, both, _ = run(capsys, *argv, "-c", "100")
    assert {r["source"] for r in records(both)} == {str(diverse), str(imb)}


def test_filter_keeps_exactly_the_matching_records(capsys: pytest.CaptureFixture[str], diverse: Path) -> None:
    _, everything, _ = run(capsys, "inspect", str(diverse), "--format", "jsonl", "--no-summary")
    expr = 'type == "M_ME_NC_1" and common_address == 3 and cot != 3'
    code, out, _ = run(capsys, "inspect", str(diverse), "--format", "jsonl", "--no-summary", "-Y", expr)
    expected = [
        r for r in records(everything) if r.get("type") == "M_ME_NC_1" and r["common_address"] == 3 and r["cot"] != 3
    ]
    assert code == 0 and expected
    assert records(out) == expected


def test_filter_on_imb_event_names(capsys: pytest.CaptureFixture[str], imb: Path) -> None:
    code, out, _ = run(
        capsys, "inspect", str(imb), "--format", "jsonl", "--no-summary", "-Y", 'event_name contains "weather"'
    )
    found = records(out)
    assert code == 0 and found
    assert all("weather" in r["fields"]["event_name"] for r in found)


def test_bad_filter_is_one_line_with_the_column(capsys: pytest.CaptureFixture[str], diverse: Path) -> None:
    code, out, err = run(capsys, "inspect", str(diverse), "-Y", "cot == 3 and (ioa in {1 2}")
    assert code == 2 and out == ""
    assert err.strip().startswith("otwire inspect: error: filter column 27:")
    assert len(err.splitlines()) == 1
    code, _, err = run(capsys, "inspect", str(diverse), "-Y", "coot == 3")
    assert code == 2 and "unknown field 'coot' (did you mean 'cot'?)" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("-T", "fields"), "needs at least one -e"),
        (("-e", "ioa", "--format", "jsonl"), "-e FIELD goes with"),
        (("-T", "fields", "-e", "nope"), "unknown field(s) 'nope'"),
        (("-T", "fields", "-e", "ioa", "-E", "header=maybe"), "-E header=maybe"),
        (("--duration", "1"), "--duration goes with -i"),
        (("-i", "lo", "x.pcap"), "give no capture files"),
        (("-V", "--format", "jsonl"), "-V and -x go with the table"),
        (("-x", "-T", "fields", "-e", "ioa"), "-V and -x go with the table"),
    ],
)
def test_options_that_do_not_go_together(
    capsys: pytest.CaptureFixture[str], diverse: Path, argv: tuple[str, ...], words: str
) -> None:
    code, out, err = run(capsys, "inspect", *(argv if "-i" in argv else (str(diverse), *argv)))
    assert code == 2 and out == ""
    assert words in err and len(err.splitlines()) == 1


# -- -w: write the kept packets, read them back -------------------------------------------

_KEYS_THAT_MOVE = ("source", "packet")


@pytest.mark.parametrize(
    ("name", "expr"),
    [
        ("iti_090813_diverse.pcap", 'direction == "to_client"'),
        ("iti_JavaRMI_and_IEC_Misc.pcap", 'protocol == "iec104"'),
        ("otwire_imb_hub.pcap", 'direction == "to_server" and kind == "apdu"'),
    ],
)
def test_write_then_read_gives_the_same_records(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, expr: str
) -> None:
    out_pcap = tmp_path / "kept.pcap"
    with resources.as_file(SAMPLE_DIR / name) as path:
        argv = ("--format", "jsonl", "--no-summary", "-Y", expr)
        code, kept, _ = run(capsys, "inspect", str(path), *argv, "-w", str(out_pcap))
    assert code == 0 and kept
    code, again, _ = run(capsys, "inspect", str(out_pcap), *argv)
    assert code == 0
    assert records(again, *_KEYS_THAT_MOVE) == records(kept, *_KEYS_THAT_MOVE)
    # only kept packets were written: the packets of the rows, in order
    _, everything, _ = run(capsys, "inspect", str(out_pcap), "--format", "jsonl", "--no-summary")
    assert len({r["packet"] for r in records(everything)}) == len({r["packet"] for r in records(kept)})


def test_write_from_stdin_and_with_a_count(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, diverse: Path
) -> None:
    out_pcap = tmp_path / "first.pcap"
    _stdin(monkeypatch, diverse.read_bytes())
    code, kept, _ = run(capsys, "inspect", "-", "--format", "jsonl", "--no-summary", "-c", "4", "-w", str(out_pcap))
    assert code == 0 and len(kept.splitlines()) == 4
    _, again, _ = run(capsys, "inspect", str(out_pcap), "--format", "jsonl", "--no-summary")
    assert records(again, *_KEYS_THAT_MOVE) == records(kept, *_KEYS_THAT_MOVE)


def test_write_refuses_hex_dumps(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dump = tmp_path / "frames.hex"
    dump.write_text("68 04 07 00 00 00\n")
    code, out, err = run(capsys, "inspect", str(dump), "--proto", "iec104", "-w", str(tmp_path / "x.pcap"))
    assert code == 2 and out == ""
    assert "-w needs pcap or pcapng inputs" in err


def test_write_never_overwrites_an_input(capsys: pytest.CaptureFixture[str], tmp_path: Path, diverse: Path) -> None:
    copy = tmp_path / "in.pcap"
    copy.write_bytes(diverse.read_bytes())
    code, out, err = run(capsys, "inspect", str(copy), "-w", str(copy))
    assert code == 2 and out == ""
    assert "would overwrite an input" in err
    assert copy.read_bytes() == diverse.read_bytes()


def test_no_output_and_no_file_before_a_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "out.pcap"
    code, out, err = run(
        capsys,
        "inspect",
        str(tmp_path / "missing.pcap"),
        "-T",
        "fields",
        "-E",
        "header=y",
        "-e",
        "ioa",
        "-w",
        str(target),
    )
    assert code == 2 and out == "" and "missing.pcap" in err
    assert not target.exists()
