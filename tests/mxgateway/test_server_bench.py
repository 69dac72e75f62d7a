"""benchmarks/mxgateway.py on tiny sizes: both clients receive every event (no timings asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mxgateway.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for name, value in (("MXGW_BENCH_EVENTS", "30"), ("MXGW_BENCH_CALLS", "5"), ("MXGW_BENCH_DECODES", "10")):
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("bench_mxgateway", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_and_loses_nothing(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.STREAM_EVENTS == 30
    assert bench.main() == 0
    out = capsys.readouterr().out
    assert "(30 received)" in out and out.count("ratio") == 4 and "peak memory" in out
