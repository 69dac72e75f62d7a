"""benchmarks/i3x.py on tiny sizes: otwire and i3x-client decode the same inputs to equal values (no timings)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "i3x.py"


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _installed("i3x-client"), reason="i3x-client (dev extra) not installed")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_i3x", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sse_path_loads_i3x_client_itself(bench: ModuleType) -> None:
    for name in [n for n in sys.modules if n.split(".")[0] == bench.I3X_CLIENT]:
        del sys.modules[name]
    assert len(bench.i3x_sse(bench.chunks(bench.sse_stream(2)))) == 2
    assert bench.I3X_CLIENT in sys.modules


def test_bulk_decodes_equal(bench: ModuleType) -> None:
    body = bench.bulk_body(9)
    ours = bench.otwire_bulk(body)
    theirs = bench.i3x_bulk_decoder(body)()
    assert [v.element_id for v in ours] == [f"e{i}" for i in range(9)]
    assert sum(1 for v in ours if v.components) == 3
    assert bench.same_values(ours, theirs)


def test_bulk_check_sees_a_difference(bench: ModuleType) -> None:
    ours = bench.otwire_bulk(bench.bulk_body(5))
    theirs = bench.i3x_bulk_decoder(bench.bulk_body(4))()
    assert not bench.same_values(ours, theirs)
    theirs = bench.i3x_bulk_decoder(bench.bulk_body(5).replace(b'"e4-c1"', b'"e4-cX"'))()
    assert not bench.same_values(ours, theirs)


@pytest.mark.parametrize("size", [7, 64, 1 << 20])
def test_sse_decodes_equal(bench: ModuleType, size: int) -> None:
    pieces = bench.chunks(bench.sse_stream(25), size)
    ours = bench.otwire_sse(pieces)
    theirs = bench.i3x_sse(pieces)
    assert len(ours) == 25
    assert [c.sequence_number for c in ours] == list(range(1, 26))
    assert bench.same_changes(ours, theirs)
    assert not bench.same_changes(ours[1:], theirs[1:] + theirs[:1])


def test_end_to_end_delivers_every_update(bench: ModuleType) -> None:
    rate, received, cpu = bench.end_to_end(50)
    assert received == 50
    assert rate > 0 and cpu > 0


def test_end_to_end_with_otwire_clients(bench: ModuleType) -> None:
    import otwire.clients.i3x

    assert bench.end_to_end(50, otwire.clients.i3x)[1] == 50
    assert bench.end_to_end_async(50)[1] == 50
    assert bench.traced_peak(lambda: bench.end_to_end_async(20)) > 0


def test_sse_stage_calls_run(bench: ModuleType) -> None:
    parse, mapping = bench.otwire_sse_parts(bench.chunks(bench.sse_stream(3)))
    assert parse() is None
    assert mapping() is None
