"""grpcio-tools stubs of ``specs/mxgateway/*.proto``, generated at test time (never committed).

``load_stubs()`` runs ``python -m grpc_tools.protoc --python_out --grpc_python_out`` once per
process into a temporary directory, puts it on ``sys.path`` and imports the four modules under
protoc's own top-level names (``mxaccess_gateway_pb2``, ``..._pb2_grpc``, ``galaxy_repository_pb2``,
``..._pb2_grpc``). A second call (or another helper that already imported them under those names)
reuses the loaded modules: protobuf's descriptor pool takes each ``.proto`` file once per process.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

SPECS = Path(__file__).resolve().parents[2] / "specs" / "mxgateway"
_NAMES = ("mxaccess_gateway_pb2", "mxaccess_gateway_pb2_grpc", "galaxy_repository_pb2", "galaxy_repository_pb2_grpc")


class Stubs(NamedTuple):
    """The generated protobuf and grpcio modules of both services."""

    mx: ModuleType
    mx_grpc: ModuleType
    galaxy: ModuleType
    galaxy_grpc: ModuleType


_cache: list[Stubs] = []


def load_stubs() -> Stubs:
    """Generate (once) and import the grpcio-tools modules.

    Raises:
        subprocess.CalledProcessError: protoc failed.
    """
    if _cache:
        return _cache[0]
    if not all(name in sys.modules for name in _NAMES):
        out = Path(tempfile.mkdtemp(prefix="otwire-mxgw-pb2-"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{SPECS}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                str(SPECS / "mxaccess_gateway.proto"),
                str(SPECS / "galaxy_repository.proto"),
            ],
            check=True,
            capture_output=True,
        )
        sys.path.insert(0, str(out))
    modules = [importlib.import_module(name) for name in _NAMES]
    _cache.append(Stubs(*modules))
    return _cache[0]
