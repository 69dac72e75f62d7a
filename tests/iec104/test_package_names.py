"""The package's names: the codecs and the framer are imported on first use, and are the modules' own."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import otwire.codecs.iec104 as c


@pytest.mark.parametrize("name", c.__all__)
def test_every_public_name_is_the_defining_modules_object(name: str) -> None:
    value = getattr(c, name)
    module = c._ON_DEMAND.get(name)
    if module is not None:
        assert value is getattr(importlib.import_module(module), name)
    assert name in dir(c)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        c.no_such_name  # noqa: B018


def test_codecs_are_imported_on_first_use() -> None:
    code = (
        "import sys\n"
        "import otwire.codecs.iec104 as c\n"
        "lazy = ['otwire.codecs.iec104.' + m for m in ('apci', 'asdu', 'framing', '_compiled', '_schema')]\n"
        "assert [m for m in lazy if m in sys.modules] == [], sys.modules\n"
        "from otwire.codecs.iec104 import *\n"
        "assert decode_apdu.__module__ == 'otwire.codecs.iec104.apci'\n"
        "assert [m for m in lazy if m in sys.modules] == lazy[:4]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
