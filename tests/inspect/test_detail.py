"""-V detail trees, -x hex dumps, explain(), and golden outputs of the options on the bundled captures.

Regenerate the golden files after an intended change of the output with
``OTWIRE_UPDATE_GOLDEN=1 pytest tests/inspect/test_detail.py`` and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from otwire.cli import main
from otwire.codecs.iec104 import ASDU, IFrame, InformationObject, SFrame, TypeId, UFrame, UFunction, encode_apdu
from otwire.codecs.iec104 import elements as el
from otwire.codecs.imb import Subscribe, encode_command
from otwire.errors import DecodeError, InvalidArgument, InvalidArgumentType
from otwire.inspect.detail import DetailTree, explain, hex_dump
from otwire.inspect.dissect import default_ports, dissect

SAMPLE_DIR = resources.files("otwire.inspect") / "samples"
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("OTWIRE_UPDATE_GOLDEN") == "1"


def _leaves_with_octets(tree: DetailTree) -> Iterator[DetailTree]:
    if tree.offset is not None and not any(c.offset is not None for c in tree.children):
        yield tree
    for child in tree.children:
        yield from _leaves_with_octets(child)


def _covered(tree: DetailTree, frame: bytes) -> None:
    """The octet-owning leaves tile the frame: in order, no gap, no overlap, the right octets."""
    at = 0
    for leaf in _leaves_with_octets(tree):
        assert leaf.offset == at, (leaf.label, leaf.offset, at)
        assert leaf.raw == frame[at : at + len(leaf.raw)]
        at += len(leaf.raw)
    assert at == len(frame)


def test_explain_an_i_frame_field_by_field() -> None:
    asdu = ASDU(
        type_id=TypeId.M_ME_TF_1,
        cot=3,
        common_address=7,
        originator_address=2,
        test=True,
        objects=(
            InformationObject(
                ioa=0x010203,
                elements=(
                    el.R32(value=1.5),
                    el.QDS(),
                    el.CP56Time2a(raw=bytes([0xA5, 0x0F, 3, 14, 2, 12, 26])),
                ),
            ),
        ),
    )
    frame = encode_apdu(IFrame(ns=5, nr=9, asdu=asdu))
    tree = explain(frame.hex(" "))
    _covered(tree, frame)
    assert tree == explain(frame) == explain("0x" + frame.hex())
    assert (n := tree.find("N(S)")) is not None and n.label.endswith(": 5") and n.raw == frame[2:4]
    assert (n := tree.find("N(R)")) is not None and n.label.endswith(": 9")
    assert (n := tree.find("type_id")) is not None and n.label == "type_id: 36 M_ME_TF_1" and n.raw == bytes([36])
    assert (n := tree.find("cause of transmission")) is not None and n.raw == bytes([0x83])
    assert [c.label for c in n.children] == ["T (test): 1", "P/N (negative confirm): 0", "cause: 3 SPONTANEOUS"]
    assert (n := tree.find("originator address")) is not None and n.label.endswith(": 2")
    assert (n := tree.find("common address")) is not None and n.raw == b"\x07\x00"
    assert (n := tree.find("IOA: 66051")) is not None and n.raw == b"\x03\x02\x01"
    assert (n := tree.find("R32")) is not None and n.find("value: 1.5") is not None and len(n.raw) == 4
    assert (n := tree.find("CP56Time2a")) is not None and len(n.raw) == 7 and n.find("minute: 3") is not None
    text = tree.render()
    assert text.startswith("IEC 60870-5-104 APDU, ") and text.count("\n") == len(list(tree.lines()))


@pytest.mark.parametrize(
    ("apdu", "words"),
    [
        (SFrame(nr=300), "N(R) receive sequence number: 300"),
        (UFrame(function=UFunction.STARTDT_ACT), "U-format STARTDT_ACT"),
    ],
)
def test_explain_s_and_u_frames(apdu: SFrame | UFrame, words: str) -> None:
    frame = encode_apdu(apdu)
    tree = explain(frame)
    _covered(tree, frame)
    assert words in tree.render()


def test_explain_an_sq_asdu_shows_one_ioa_on_the_wire() -> None:
    objects = tuple(InformationObject(ioa=100 + i, elements=(el.SIQ(spi=bool(i % 2)),)) for i in range(3))
    frame = encode_apdu(
        IFrame(ns=0, nr=0, asdu=ASDU(type_id=TypeId.M_SP_NA_1, cot=20, common_address=1, sq=True, objects=objects))
    )
    tree = explain(frame)
    _covered(tree, frame)
    assert tree.find("IOA: 101 (SQ: previous + 1)") is not None and tree.find("IOA: 101").offset is None  # type: ignore[union-attr]


def test_explain_an_imb_frame() -> None:
    frame = encode_command(Subscribe(event_id=7, event_entry_type=0, event_name="demo.weather"))
    tree = explain(frame, proto="imb")
    _covered(tree, frame)
    assert (n := tree.find("event_name")) is not None and n.label == "event_name: 'demo.weather'"
    assert n.raw.endswith(b"demo.weather")


@pytest.mark.parametrize(
    ("value", "proto", "error"),
    [
        ("68 04 07 00", "iec104", DecodeError),
        ("68 zz", "iec104", InvalidArgument),
        ("68 04 07 00 00 00", "modbus", InvalidArgument),
        (42, "iec104", InvalidArgumentType),
        ("2f 47 61 71", "imb", DecodeError),
    ],
)
def test_explain_refuses_bad_input(value: object, proto: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        explain(value, proto)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["iti_JavaRMI_and_IEC_Misc.pcap", "iti_TestDissectIec104.pcap", "otwire_imb_hub.pcap"])
def test_every_decoded_frame_of_the_captures_is_explained_octet_by_octet(name: str) -> None:
    with resources.as_file(SAMPLE_DIR / name) as path:
        rows = [r for r in dissect(path, default_ports()) if r.kind == "apdu" and r.finding]
    assert rows
    for row in rows:
        assert row.finding is not None and row.protocol is not None
        tree = explain(row.finding.raw, row.protocol)
        if not (isinstance(row.finding.message, IFrame) and row.finding.message.asdu.raw_information):
            _covered(tree, row.finding.raw)


def test_hex_dump_lines() -> None:
    lines = list(hex_dump(bytes(range(0x41, 0x41 + 20)), indent=""))
    assert lines == [
        "0000  41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50  ABCDEFGHIJKLMNOP",
        "0010  51 52 53 54                                      QRST",
    ]


# -- golden outputs --------------------------------------------------------------------------

_JAVARMI_FIELDS = [x for f in ("packet", "direction", "format", "type", "cot", "ioa", "value") for x in ("-e", f)]
CASES = {
    "diverse_V_x.txt": ("iti_090813_diverse.pcap", ("-V", "-x", "-c", "30", "--no-summary")),
    "torture_V.txt": ("iti_TestDissectIec104.pcap", ("-V", "-c", "40", "--no-summary")),
    "imb_V_x.txt": ("otwire_imb_hub.pcap", ("-V", "-x", "--no-summary")),
    "i3x_V.txt": ("otwire_i3x.pcap", ("-V", "-c", "12", "--no-summary")),
    "javarmi_fields.txt": ("iti_JavaRMI_and_IEC_Misc.pcap", ("-T", "fields", "-E", "header=y", *_JAVARMI_FIELDS)),
    "imb_fields.txt": (
        "otwire_imb_hub.pcap",
        ("-e", "command", "-e", "event_kind_name", "-e", "event_name", "--no-summary"),
    ),
    "diverse.csv": ("iti_090813_diverse.pcap", ("--format", "csv", "--no-summary")),
    "i3x.csv": (
        "otwire_i3x.pcap",
        (
            "--format",
            "csv",
            "-e",
            "packet",
            "-e",
            "message",
            "-e",
            "method",
            "-e",
            "target",
            "-e",
            "status",
            "--no-summary",
        ),
    ),
}


@pytest.mark.parametrize("golden", sorted(CASES))
def test_golden_output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, golden: str) -> None:
    name, options = CASES[golden]
    with resources.as_file(SAMPLE_DIR / name) as path:
        monkeypatch.chdir(path.parent)  # the table header names the file as given
        code = main(["inspect", name, *options])
    out = capsys.readouterr().out
    assert code == 0
    target = GOLDEN / golden
    if UPDATE:
        target.write_text(out, encoding="utf-8")
    assert out == target.read_text(encoding="utf-8")
