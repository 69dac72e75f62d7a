"""The README's MXAccess Gateway example runs as written against the grpcio gateway."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from .grpcio_peer import KEY, GrpcioPeer
from .grpcio_peer_kit import peer, run

__all__ = ["peer"]
README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_example(peer: GrpcioPeer, capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## MXAccess Gateway") : text.index("## Layout")]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    body = code[1].replace('"localhost:5000"', repr(peer.endpoint))
    imports, _, rest = body.partition("\n\n")
    source = f"{imports}\n\n\nasync def example():\n{textwrap.indent(rest, '    ')}"
    namespace: dict[str, object] = {"KEY": KEY}
    exec(compile(source, "README.md", "exec"), namespace)
    run(namespace["example"]())  # type: ignore[operator]
    assert capsys.readouterr().out == "1 ON_DATA_CHANGE 0\n"
    assert peer.gateway.closed_sessions == ["sess-1"]
