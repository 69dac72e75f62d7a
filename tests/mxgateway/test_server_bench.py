"""benchmarks/mxgateway.py on tiny sizes: every client receives every event (no timings asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mxgateway.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for name, value in (("MXGW_BENCH_EVENTS", "30"), ("MXGW_BENCH_CALLS", "5"), ("MXGW_BENCH_DECODES", "10"),
                        ("MXGW_BENCH_ROUNDS", "2")):  # fmt: skip
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
    assert out.count("(30 received)") == 3 and "peak memory" in out
    assert out.count("wall ratio otwire/grpcio") == 1 and out.count("CPU ratio grpcio/otwire") == 1
    assert out.count("ratio otwire/grpcio") == 2  # the stream's wall ratio and Invoke's
    assert "otwire stream_events() >= 1.0x grpcio: " in out and "judged on the median CPU ratio" in out
