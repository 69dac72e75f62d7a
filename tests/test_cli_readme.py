"""The README's tour of ``otwire inspect`` stays true: its examples are what the commands print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otwire.cli import main
from otwire.codecs.iec104 import UFrame, UFunction, encode_apdu
from otwire.transports import Direction
from otwire.transports.record import PcapRecorder

README = Path(__file__).parent.parent / "README.md"


def tour() -> str:
    text = README.read_text()
    return text[text.index("## A tour of `otwire inspect`") : text.index("## The codec")]


def test_tour_tables_are_make_demo_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect"]) == 0
    printed = set(capsys.readouterr().out.splitlines())
    blocks = re.findall(r"```text\n(.*?)```", tour(), re.DOTALL)
    assert len(blocks) == 4
    for block in blocks:
        for line in block.splitlines():
            assert line in printed, line


def test_tour_notice_and_library_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with PcapRecorder("server.pcap", local=("127.0.0.1", 50000), remote=("127.0.0.1", 2405)) as recorder:
        recorder.record(Direction.OUT, encode_apdu(UFrame(UFunction.STARTDT_ACT)), timestamp=1.0)
    assert main(["inspect", "--no-summary", "server.pcap"]) == 0
    out = capsys.readouterr().out
    notice = re.search(r"\(for instance `(notice: .*?)`\)", tour(), re.DOTALL)
    assert notice is not None and " ".join(notice[1].split()) in out
    code = re.search(r"```python\n(.*?)```", tour(), re.DOTALL)
    assert code is not None
    exec(compile(code[1], "README.md", "exec"), {})
    comment = code[1].split("# ", 1)[1].strip()
    assert capsys.readouterr().out.splitlines() == [comment]
