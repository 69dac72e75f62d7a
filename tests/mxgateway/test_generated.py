"""The committed betterproto2 output is exactly what specs/mxgateway/generate.py produces."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "src" / "otwire" / "codecs" / "mxgateway" / "generated"


def _files(base: Path) -> set[Path]:
    return {p.relative_to(base) for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_regenerating_gives_the_committed_files(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    subprocess.run(
        [sys.executable, str(ROOT / "specs" / "mxgateway" / "generate.py"), str(out)],
        check=True,
        capture_output=True,
    )
    assert _files(out) == _files(GENERATED)
    different = [str(rel) for rel in sorted(_files(out)) if not filecmp.cmp(out / rel, GENERATED / rel, shallow=False)]
    assert different == []


def test_generated_packages_import_under_their_public_names() -> None:
    from otwire.codecs.mxgateway import galaxy, pb

    reply = pb.MxCommandReply(session_id="s1", kind=pb.MxCommandKind.REGISTER, hresult=-2147220992)
    assert pb.MxCommandReply.parse(bytes(reply)) == reply
    assert galaxy.TestConnectionReply.parse(bytes(galaxy.TestConnectionReply(ok=True))).ok is True
