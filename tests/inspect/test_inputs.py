"""Inputs of ``otwire inspect``: empty and foreign captures, raw files, gzip, progress, summaries."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import dpkt
import pytest

from otwire.cli import main
from otwire.codecs.iec104 import UFrame, UFunction, encode_apdu
from otwire.inspect.capture import CaptureError, CaptureStats
from otwire.inspect.dissect import Row, default_ports, dissect

SAMPLES = resources.files("otwire.inspect") / "samples"
STARTDT = encode_apdu(UFrame(UFunction.STARTDT_ACT))


def sample(name: str = "iti_090813_diverse.pcap") -> bytes:
    return (SAMPLES / name).read_bytes()


def write_pcap(path: Path, packets: list[bytes]) -> Path:
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f)
        for n, packet in enumerate(packets):
            writer.writepkt(packet, ts=1.0 + n)
    return path


def tcp(sport: int, dport: int, data: bytes = b"", seq: int = 1) -> bytes:
    segment = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, data=data)
    ip = dpkt.ip.IP(src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02", p=dpkt.ip.IP_PROTO_TCP, data=segment)
    ip.len = len(bytes(ip))
    return bytes(dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x00" * 6, data=ip))


def udp(sport: int, dport: int) -> bytes:
    datagram = dpkt.udp.UDP(sport=sport, dport=dport, data=b"x")
    datagram.ulen = len(bytes(datagram))
    ip = dpkt.ip.IP(src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02", p=dpkt.ip.IP_PROTO_UDP, data=datagram)
    ip.len = len(bytes(ip))
    return bytes(dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x00" * 6, data=ip))


def notice(path: Path, **kwargs: str) -> str:
    rows = list(dissect(path, default_ports(), **kwargs))  # type: ignore[arg-type]
    assert [r.kind for r in rows if r.kind != "warning"][-1:] == ["notice"]
    return rows[-1].message


# -- never silent empty output -------------------------------------------------------------


def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    assert notice(path).startswith("empty file; the right one? record a session with `otwire serve iec104 --record F`")
    assert main(["inspect", str(path)]) == 0
    assert "notice: empty file; the right one?" in capsys.readouterr().out


def test_capture_without_packets(tmp_path: Path) -> None:
    text = notice(write_pcap(tmp_path / "none.pcap", []))
    assert (
        text.startswith("no packets in this capture; was traffic flowing? record a session with ")
        and "--record" in text
    )


def test_capture_without_tcp(tmp_path: Path) -> None:
    text = notice(write_pcap(tmp_path / "udp.pcap", [udp(5000, 53)] * 3))
    assert text.startswith("no TCP traffic in 3 packets; only TCP conversations are dissected")


def test_capture_with_other_ports_names_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_pcap(tmp_path / "web.pcap", [tcp(40000, 80, b"GET /"), tcp(80, 40000, b"200"), tcp(40001, 2405)])
    text = notice(path)
    assert "iec104 on 2404, imb on 4000, xmpp on 5222, i3x on 8080)" in text
    assert "TCP ports seen: 80, 2405" in text and "--port" in text
    assert main(["inspect", "--format", "jsonl", "--no-summary", str(path)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["notice"] and err == ""


def test_undecodable_traffic_on_a_followed_port(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "junk.pcap", [tcp(40000, 2404, b"\x00\x01\x02 not iec 104")])
    text = notice(path)
    assert text.startswith("nothing decoded (0 decode errors, 1 junk stretches") and "--port PROTO:PORT" in text


def test_no_notice_when_something_decodes() -> None:
    with resources.as_file(SAMPLES / "iti_090813_diverse.pcap") as path:
        assert "notice" not in {r.kind for r in dissect(path, default_ports())}


# -- raw and hex files only with --proto ----------------------------------------------------


@pytest.mark.parametrize(("name", "content", "kind"), [("x.bin", STARTDT * 2, "raw stream"),
                                                       ("x.txt", STARTDT.hex() + "\n", "hex dump")])  # fmt: skip
def test_raw_and_hex_need_proto(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes | str, kind: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["inspect", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"not a pcap or pcapng capture; to decode it as a {kind}" in err and "--proto iec104|imb" in err
    with pytest.raises(CaptureError, match="--proto"):
        next(dissect(path, default_ports()))
    assert main(["inspect", "--proto", "iec104", "--no-summary", str(path)]) == 0
    assert "STARTDT_ACT" in capsys.readouterr().out


def test_raw_stream_of_another_protocol(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(STARTDT)
    assert notice(path, proto="imb").startswith("nothing decoded as imb")


# -- gzip -------------------------------------------------------------------------------------


def test_gzip_capture_reads_as_the_plain_one(tmp_path: Path) -> None:
    plain = tmp_path / "c.pcap"
    plain.write_bytes(sample())
    packed = tmp_path / "c.pcap.gz"
    packed.write_bytes(gzip.compress(sample()))
    unnamed = tmp_path / "compressed"  # detected by its magic, not its name
    unnamed.write_bytes(packed.read_bytes())

    def key(rows: list[Row]) -> list[tuple[str, bytes]]:
        return [(r.kind, r.finding.raw if r.finding else b"") for r in rows]

    expected = key(list(dissect(plain, default_ports())))
    assert len(expected) > 80
    assert key(list(dissect(packed, default_ports()))) == expected
    assert key(list(dissect(unnamed, default_ports()))) == expected


def test_gzip_hex_dump_with_proto(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt.gz"
    path.write_bytes(gzip.compress(f"{STARTDT.hex()}\n{STARTDT.hex()}\n".encode()))
    assert [r.kind for r in dissect(path, {}, proto="iec104")] == ["apdu", "apdu"]


def test_truncated_gzip_is_a_warning_after_what_was_read(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap.gz"
    packed = gzip.compress(sample())
    path.write_bytes(packed[: len(packed) // 2])
    rows = list(dissect(path, default_ports()))
    assert sum(r.kind == "apdu" for r in rows) > 10
    assert any(r.kind == "warning" and "compressed data truncated or corrupt" in r.message for r in rows)


def test_not_gzip_after_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b\x00garbage")
    assert main(["inspect", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# -- progress and per-file summaries ----------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_progress_follows_the_octets_read(tmp_path: Path, compress: bool) -> None:
    path = tmp_path / "big.pcap"
    data = sample("iti_JavaRMI_and_IEC_Misc.pcap")
    path.write_bytes(gzip.compress(data) if compress else data)
    positions: list[int] = []
    rows = dissect(path, default_ports(), stats=CaptureStats(progress=positions.append))
    next(rows)
    assert positions == [] or positions[-1] < path.stat().st_size  # reading goes on as rows are taken
    list(rows)
    assert positions == sorted(positions) and len(positions) > 1
    assert positions[-1] == path.stat().st_size


def test_each_summary_follows_its_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a.pcap", tmp_path / "b.pcap"
    first.write_bytes(sample())
    second.write_bytes(sample("otwire_imb_hub.pcap"))
    assert main(["inspect", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert out.index(f"== {first}") < out.index(f"summary: {first}") < out.index(f"== {second}")
    assert out.index(f"== {second}") < out.index(f"summary: {second}")
    assert main(["inspect", "--format", "jsonl", str(first), str(second)]) == 0
    summaries = [json.loads(line)["summary"] for line in capsys.readouterr().err.splitlines()]
    assert [list(s) for s in summaries] == [[str(first)], [str(second)]]


def test_progress_bar_always(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.pcap"
    path.write_bytes(sample())
    assert main(["inspect", "--progress", "always", "--no-summary", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "dissecting" in err and "C_SC_TA_1" in out


def test_every_notice_has_a_hint(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    files = [
        empty,
        write_pcap(tmp_path / "none.pcap", []),
        write_pcap(tmp_path / "udp.pcap", [udp(5000, 53)]),
        write_pcap(tmp_path / "web.pcap", [tcp(40000, 80, b"GET /")]),
        write_pcap(tmp_path / "junk.pcap", [tcp(40000, 2404, b"\x00" * 8)]),
    ]
    for path in files:
        message = notice(path)
        assert "; " in message and ("--" in message or "tcpdump" in message), message


def test_json_lines_into_a_pipe_load_neither_rich_nor_construct() -> None:
    """jsonl of every bundled sample (every protocol) into a pipe imports no rich and no construct."""
    code = (
        "import sys, io, contextlib\n"
        "from otwire.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['inspect', '--format', 'jsonl', '--progress', 'auto']) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'construct'}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert run.stdout.strip() == "[]", run.stdout
    assert '"summary"' in run.stderr  # the samples were dissected
