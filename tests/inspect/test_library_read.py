"""``otwire.inspect.read``: file objects, the ``filter`` predicate and the README example."""

from __future__ import annotations

import gzip
import io
import re
import shutil
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pytest

import otwire.inspect
from otwire.errors import InvalidArgumentType
from otwire.inspect import record_values, row_json
from otwire.inspect.filter import FilterError

SAMPLE_DIR = resources.files("otwire.inspect") / "samples"
README = Path(__file__).resolve().parents[2] / "README.md"


def sample(tmp_path: Path, name: str = "iti_090813_diverse.pcap") -> Path:
    with resources.as_file(SAMPLE_DIR / name) as path:
        return Path(shutil.copy(path, tmp_path / name))


def as_json(rows: object) -> list[dict[str, object]]:
    return [row_json(row, "x") for row in rows]  # type: ignore[attr-defined]


class Unseekable(io.RawIOBase):
    """A pipe-like binary stream."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_file_objects_read_like_their_path(tmp_path: Path) -> None:
    path = sample(tmp_path)
    expected = as_json(otwire.inspect.read(path))
    with path.open("rb") as f:
        f.read(10)  # read from the first octet, wherever the file is
        assert as_json(otwire.inspect.read(f)) == expected
        assert not f.closed
    assert as_json(otwire.inspect.read(io.BytesIO(gzip.compress(path.read_bytes())))) == expected
    assert as_json(otwire.inspect.read(Unseekable(path.read_bytes()))) == expected


def test_filter_keeps_the_records_its_predicate_accepts(tmp_path: Path) -> None:
    path = sample(tmp_path)
    seen: list[Mapping[str, object]] = []

    def measured(values: Mapping[str, object]) -> bool:
        seen.append(values)
        return values.get("type") == "M_ME_NC_1"

    everything = list(otwire.inspect.read(path))
    kept = list(otwire.inspect.read(path, filter=measured))
    assert len(seen) == len(everything)  # asked once per record
    assert as_json(kept) == [row_json(r, "x") for r in everything if record_values(r).get("type") == "M_ME_NC_1"]
    assert 0 < len(kept) < len(everything)
    assert all(r.kind == "apdu" and r.packet_number and r.stream == 1 for r in kept)


def test_a_display_filter_string_reads_the_flat_view_as_y_does(tmp_path: Path) -> None:
    path = sample(tmp_path)
    expr = 'type == "M_ME_NC_1" and ioa in {1300 1301}'
    kept = as_json(otwire.inspect.read(path, filter=expr))

    def nested(values: Mapping[str, object]) -> bool:  # ioa sits under objects in record_values
        objects = values.get("objects") or []
        ioas = {o["ioa"] for o in objects}  # type: ignore[attr-defined]
        return values.get("type") == "M_ME_NC_1" and bool(ioas & {1300, 1301})

    assert kept == as_json(otwire.inspect.read(path, filter=nested))
    assert 0 < len(kept) < len(as_json(otwire.inspect.read(path)))
    with pytest.raises(FilterError) as caught:
        otwire.inspect.read(path, filter="ioa in {1300")
    assert caught.value.column > 0


def test_a_filter_that_is_not_callable_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentType, match="filter"):
        otwire.inspect.read(sample(tmp_path), filter=42)  # type: ignore[arg-type]


def test_readme_filter_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = README.read_text()
    code = next(block for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL) if "filter=" in block)
    monkeypatch.chdir(tmp_path)
    sample(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    expected = [line.split("# ", 1)[1] for line in code.splitlines() if line.startswith("# ")]
    assert capsys.readouterr().out.splitlines() == expected
