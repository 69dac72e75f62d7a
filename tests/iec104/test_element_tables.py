"""One-octet element tables: built on first use, without range checks, equal to validated construction."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.iec104 import elements as el
from otwire.errors import EncodeError

NAMES = "SIQ DIQ QDS QDP VTI SEP SPE OCI SCO DCO RCO QOS COI QCC QPM QOI QRP QPA NOS CHS LSQ FRQ SRQ SCQ AFQ SOF"
OCTET_CLASSES = [getattr(el, name) for name in NAMES.split()]


def _same(fast: el.OctetElement, checked: el.OctetElement) -> None:
    """Equal, and field by field of the same type (enum members, bools, ints), with the same repr and hash."""
    assert type(fast) is type(checked)
    assert fast == checked
    for field in dataclasses.fields(checked):
        a, b = getattr(fast, field.name), getattr(checked, field.name)
        assert type(a) is type(b) and a == b, field.name
    assert repr(fast) == repr(checked)
    assert hash(fast) == hash(checked)


@pytest.mark.parametrize("cls", OCTET_CLASSES, ids=lambda cls: cls.__name__)
def test_unchecked_table_equals_validated_construction(cls: type[el.OctetElement]) -> None:
    table = el.octet_table(cls)
    assert len(table) == 256
    for octet in range(256):
        checked = cls._decode_octet(octet)  # through __init__ and __post_init__'s range checks
        _same(table[octet], checked)
        _same(cls._TABLE[octet], checked)
        assert table[octet].octet == octet


@given(st.sampled_from(OCTET_CLASSES), st.integers(0, 255))
def test_table_elements_equal_keyword_construction(cls: type[el.OctetElement], octet: int) -> None:
    element = cls.from_octet(octet)
    rebuilt = cls(**{f.name: getattr(element, f.name) for f in dataclasses.fields(element)})
    _same(element, rebuilt)


def test_unchecked_constructor_validates_a_partial_call() -> None:
    make = el.unchecked_constructor(el.SCO)
    _same(make(scs=True), el.SCO(scs=True))  # defaults come from the validating constructor
    with pytest.raises(EncodeError):
        make(scs=True, qu=40)


def test_tables_are_built_on_first_use() -> None:
    code = (
        "import sys\n"
        "import otwire.codecs.iec104 as c\n"
        "from otwire.codecs.iec104 import asdu, elements as el\n"
        f"classes = [getattr(el, n) for n in {NAMES!r}.split()]\n"
        "assert [cls.__name__ for cls in classes if '_TABLE' in vars(cls)] == []\n"
        "assert asdu._DECODERS == {} and asdu._ENCODERS == {}\n"
        "assert 'construct' not in sys.modules\n"
        "frame = bytes([0x68, 0x0E, 0, 0, 0, 0, 1, 1, 3, 0, 1, 0, 1, 0, 0, 0x91])\n"
        "assert c.decode_apdu(frame).asdu.objects[0].elements[0] is el.SIQ.from_octet(0x91)\n"
        "assert [cls.__name__ for cls in classes if '_TABLE' in vars(cls)] == ['SIQ']\n"
        "assert list(asdu._DECODERS) == [1]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_threads_racing_for_a_table_share_one() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Probe(el.OctetElement):
        value: int

        @classmethod
        def _decode_octet(cls, octet: int) -> Probe:
            return cls(value=octet)

    start = threading.Barrier(8)
    tables: list[tuple[el.OctetElement, ...]] = []

    def first_use() -> None:
        start.wait()
        tables.append(Probe._TABLE)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tables) == 8 and all(table is tables[0] for table in tables)
    assert Probe.from_octet(7) == Probe(value=7)
