"""Regenerate ``otwire.codecs.mxgateway.generated`` from the ``.proto`` files beside this script.

Usage (from the project root, dev extra installed)::

    python specs/mxgateway/generate.py            # rewrite src/otwire/codecs/mxgateway/generated
    python specs/mxgateway/generate.py OUT_DIR    # write the output somewhere else (the test does this)

The compiler is pinned in ``pyproject.toml`` (``betterproto2-compiler==0.10.1``, runtime
``betterproto2==0.10.0``; the generated code checks that they match). ``grpcio-tools`` only drives
``protoc``. Options: grpclib ``async`` client stubs and ``async`` server bases.

When the upstream files of the gateway become available, copy ``mxaccess_gateway.proto`` and
``galaxy_repository.proto`` over the reconstructions here and run this script once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE.parent.parent / "src" / "otwire" / "codecs" / "mxgateway" / "generated"
PROTOS = ("mxaccess_gateway.proto", "galaxy_repository.proto")


def generate(out_dir: Path) -> None:
    """Run protoc with the betterproto2 plugin into ``out_dir`` (created, must be empty or absent)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{HERE}",
            f"--python_betterproto2_out={out_dir}",
            "--python_betterproto2_opt=client_generation=async,server_generation=async",
            *(str(HERE / name) for name in PROTOS),
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def main(argv: list[str]) -> int:
    if argv:
        generate(Path(argv[0]))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        shutil.rmtree(TARGET, ignore_errors=True)
        shutil.copytree(tmp, TARGET)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
