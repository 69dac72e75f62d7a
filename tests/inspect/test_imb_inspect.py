"""``otwire inspect`` on IMB3 traffic: a capture written with the pcap recorder from codec frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otwire.cli import main
from otwire.codecs.imb import (
    Action,
    ChangeObjectEvent,
    EventFlag,
    NormalEvent,
    SetClientInfo,
    StreamBody,
    StreamHeader,
    StreamTail,
    Subscribe,
    UnknownEvent,
    encode_command,
    encode_frame,
)
from otwire.inspect.capture import Sender
from otwire.inspect.dissect import default_ports, dissect
from otwire.inspect.imb import EventCommand  # the codec's icEvent class, through inspect's one alias
from otwire.transports import Direction
from otwire.transports.record import PcapRecorder

CLIENT, HUB = ("127.0.0.1", 50000), ("127.0.0.1", 4000)
TRAILER = bytes.fromhex("6734f110")


def write_capture(path: Path, to_hub: list[bytes], to_client: list[bytes]) -> None:
    with PcapRecorder(path, local=CLIENT, remote=HUB) as recorder:
        for data in to_hub:
            recorder.record(Direction.OUT, data, timestamp=1_700_000_000.0)
        for data in to_client:
            recorder.record(Direction.IN, data, timestamp=1_700_000_001.0)


CHANGE = ChangeObjectEvent(action=Action.CHANGE, object_id=42, attribute="temperature")
TO_HUB = [
    encode_command(SetClientInfo(owner_id=7, owner_name="otwire test")),
    encode_command(Subscribe(event_id=0, event_name="demo.weather")),
    # A normal event whose payload holds the trailer octets: framing is by length.
    encode_command(EventCommand(event_id=0, body=NormalEvent(data=b"x" + TRAILER + b"y"))),
    b"garbage!",
    encode_command(
        EventCommand(
            event_id=0,
            flags=EventFlag.PRIORITY,
            body=ChangeObjectEvent(action=Action.CHANGE, object_id=42, attribute="temperature"),
        )
    ),
    encode_command(EventCommand(event_id=0, body=StreamHeader(stream_id=5, stream_name="file.bin"))),
    encode_command(EventCommand(event_id=0, body=StreamBody(stream_id=5, data=bytes(range(256)) * 8))),
    encode_command(EventCommand(event_id=0, body=StreamTail(stream_id=5, data=b"end"))),
    encode_frame(-999, b"\x01\x02"),  # unknown command code: a raw message, not an error
    encode_command(EventCommand(event_id=0, body=UnknownEvent(event_kind=77, data=b"\xaa"))),
]
BAD_TRAILER = encode_frame(-15, b"\x00" * 12)[:-4] + b"\x00\x00\x00\x00"


def test_default_ports_cover_both_protocols() -> None:
    assert default_ports() == {2404: "iec104", 4000: "imb", 5222: "xmpp", 8080: "i3x"}


def test_dissect_imb_capture(tmp_path: Path) -> None:
    path = tmp_path / "imb.pcap"
    write_capture(path, TO_HUB, [BAD_TRAILER, encode_command(SetClientInfo(owner_id=1, owner_name="after"))])
    rows = list(dissect(path, default_ports()))
    kinds = [(r.sender.direction if r.sender else None, r.kind) for r in rows if r.finding is not None]
    assert kinds.count(("to_server", "apdu")) == len(TO_HUB) - 1  # all but the garbage
    assert ("to_server", "junk") in kinds
    assert all(r.protocol == "imb" for r in rows if r.finding is not None)
    messages = [r.finding.message for r in rows if r.finding is not None and r.finding.kind == "apdu"]
    normal = next(m for m in messages if isinstance(m, EventCommand) and isinstance(m.body, NormalEvent))
    assert normal.body.data == b"x" + TRAILER + b"y"
    body = next(m for m in messages if isinstance(m, EventCommand) and isinstance(m.body, StreamBody))
    assert len(body.body.data) == 2048
    to_client = [r for r in rows if r.sender is Sender.SERVER]
    assert to_client[0].kind == "error" and "trailer" in (to_client[0].finding.error or "")  # type: ignore[union-attr]
    assert to_client[-1].kind == "apdu"  # the frame after the bad one is not lost


def test_cli_table_and_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "imb.pcap"
    write_capture(path, TO_HUB, [])
    assert main(["inspect", str(path)]) == 0
    table = capsys.readouterr().out
    assert "SET_CLIENT_INFO" in table and "CHANGE_OBJECT_EVENT" in table and "STREAM_BODY" in table
    assert "attribute='temperature'" in table and "UNKNOWN -999" in table
    assert "EVENT/NORMAL_EVENT" in table  # summary per event kind
    assert main(["inspect", "--format", "jsonl", "--no-summary", str(path)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    events = [r for r in records if r.get("command") == "EVENT"]
    change = next(r for r in events if r["event_kind_name"] == "CHANGE_OBJECT_EVENT")
    assert change["body"] == {"action": "CHANGE", "object_id": 42, "attribute": "temperature"}
    assert change["flags"] == ["PRIORITY"]
    stream = next(r for r in events if r["event_kind_name"] == "STREAM_BODY")
    assert stream["body"]["data_length"] == 2048 and len(stream["body"]["data"]) == 128


def test_port_option_moves_imb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "imb.pcap"
    with PcapRecorder(path, local=CLIENT, remote=("127.0.0.1", 4100)) as recorder:
        recorder.record(Direction.OUT, TO_HUB[0], timestamp=1.0)
    assert main(["inspect", "--no-summary", str(path)]) == 0
    assert "SET_CLIENT_INFO" not in capsys.readouterr().out  # port 4100 is not dissected by default
    assert main(["inspect", "--no-summary", "--port", "imb:4100", str(path)]) == 0
    assert "SET_CLIENT_INFO" in capsys.readouterr().out


def test_bundled_imb_sample() -> None:
    """The bundled recording of otwire's hub with two clients dissects cleanly."""
    from importlib import resources

    with resources.as_file(resources.files("otwire.inspect") / "samples" / "otwire_imb_hub.pcap") as path:
        rows = list(dissect(path, default_ports()))
    assert rows and all(r.kind == "apdu" and r.protocol == "imb" for r in rows)
    seen = {
        (r.sender.direction if r.sender else "", type(r.finding.message.body).__name__)  # type: ignore[union-attr]
        for r in rows
        if isinstance(r.finding.message, EventCommand)  # type: ignore[union-attr]
    }
    for kind in ("NormalEvent", "ChangeObjectEvent", "StreamHeader", "StreamBody", "StreamTail"):
        assert ("to_server", kind) in seen and ("to_client", kind) in seen
