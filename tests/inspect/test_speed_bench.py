"""``benchmarks/inspect_tshark.py --quick``: the benchmark runs, and otwire decodes every generated APDU."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "inspect_tshark.py"


def test_quick_benchmark_runs_and_counts_every_apdu() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick", "--apdus", "300"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "iec104 (one M_ME_NC_1 per packet): " in done.stdout and " 300 APDUs" in done.stdout
    mixed = re.search(r"mixed \(.*\): [\d.]+ MB, (\d+) APDUs", done.stdout)
    assert mixed is not None and int(mixed.group(1)) > 100  # 100 IEC 104 APDUs, plus the IMB and i3X replays
    assert len(re.findall(r"otwire jsonl .* peak RSS +[\d.]+ MiB", done.stdout)) == 2
    assert ("tshark -T json / otwire jsonl" in done.stdout) != ("tshark comparison skipped" in done.stdout)
