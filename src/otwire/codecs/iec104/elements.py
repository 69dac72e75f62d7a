"""IEC 60870-5-104 information elements as frozen dataclasses (IEC 60870-5-101 7.2.6).

Every element keeps all of its octets: reserved (RES) bits are held in a
``reserved`` field, time tags keep their raw octets, so ``encode(decode(b)) == b``.
Element names are the standard's abbreviations (SIQ, DIQ, QDS, ...).

Construction validates ranges and raises :class:`~otwire.errors.EncodeError`
(a ``LocalProtocolError``). One-octet elements are interned: decoding looks them
up in a 256-entry table instead of building a new object. A class's table is built
on its first use (most captures use a few of the 26 classes), without the range
checks its octet-decoded values cannot fail (tested equal to validated construction).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from otwire.codecs.iec104.types import (
    DoubleCommandState,
    DoublePoint,
    OutputCircuit,
    Quality,
    StartEvents,
    StepCommandState,
)
from otwire.errors import EncodeError

_FROZEN = {"frozen": True, "slots": True, "kw_only": True}
# Immutable defaults (enum members): no quality flag, no start event, no output circuit.
_NO_FLAGS = Quality(0)
_NO_START = StartEvents(0)
_NO_CIRCUIT = OutputCircuit(0)


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise EncodeError(what)


def _uint(value: int, bits: int, name: str) -> None:
    _check(
        isinstance(value, int) and 0 <= value < 1 << bits,
        f"{name}={value!r} not in 0..{(1 << bits) - 1}",
    )


def _sint(value: int, bits: int, name: str) -> None:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    _check(isinstance(value, int) and lo <= value <= hi, f"{name}={value!r} not in {lo}..{hi}")


class Element:
    """Base of every information element.

    Subclasses define ``FORMAT``: the ``struct`` codes of their raw values in wire
    order (little-endian), used by the decode fast path.
    """

    __slots__ = ()
    FORMAT: ClassVar[str]

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> Self:
        """Build the element from the raw values of ``FORMAT`` (wire order)."""
        raise NotImplementedError

    def to_raw(self) -> tuple[int | float | bytes, ...]:
        """Return the raw values of ``FORMAT`` (wire order)."""
        raise NotImplementedError


class _TableOnDemand:
    """The ``_TABLE`` of every one-octet element class: built on the first access, then stored on the class.

    The stored tuple shadows this descriptor, so later ``cls._TABLE`` reads are plain class attributes.
    """

    _lock = threading.Lock()

    def __get__(self, instance: object, owner: type[OctetElement]) -> tuple[OctetElement, ...]:
        with self._lock:  # one table per class, also when threads race: decoded elements stay shared
            table = vars(owner).get("_TABLE")
            if table is None:
                table = octet_table(owner)
                owner._TABLE = table  # type: ignore[assignment]
        return table


class OctetElement(Element):
    """An element of exactly one octet; decoded instances are shared from a table."""

    __slots__ = ()
    FORMAT = "B"
    _TABLE: ClassVar[_TableOnDemand] = _TableOnDemand()

    @classmethod
    def from_octet(cls, octet: int) -> Self:
        """Return the element encoded by ``octet`` (0..255)."""
        return cls._TABLE[octet]  # type: ignore[return-value]

    @classmethod
    def _decode_octet(cls, octet: int) -> Self:
        raise NotImplementedError

    @property
    def octet(self) -> int:
        """The element's octet on the wire."""
        raise NotImplementedError

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> Self:
        """Build the element from its octet."""
        return cls._TABLE[raw[0]]  # type: ignore[index,return-value]

    def to_raw(self) -> tuple[int]:
        """Return ``(octet,)``."""
        return (self.octet,)


def unchecked_constructor(cls: type[OctetElement]) -> Callable[..., OctetElement]:
    """Return ``make(**fields)`` building ``cls`` without ``__init__``'s range checks.

    For values valid by construction (the masked bit fields of ``_decode_octet``). A call
    that does not name every field goes to the validating constructor.
    """
    setters = [(f.name, getattr(cls, f.name).__set__) for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    new = object.__new__

    def make(**values: Any) -> OctetElement:
        if len(values) != len(setters):
            return cls(**values)
        element = new(cls)
        for name, set_value in setters:
            set_value(element, values[name])
        return element

    return make


def octet_table(cls: type[OctetElement]) -> tuple[OctetElement, ...]:
    """Return the 256 elements of ``cls`` by octet, decoded by ``cls._decode_octet`` without range checks.

    Raises:
        NotImplementedError: ``cls`` defines no ``_decode_octet``.
    """
    decode = cls._decode_octet.__func__  # type: ignore[attr-defined]
    make = unchecked_constructor(cls)
    return tuple([decode(make, octet) for octet in range(256)])


# --- Quality descriptors (101 clause 7.2.6.1-7.2.6.4) ----------------------------


@dataclass(**_FROZEN)
class SIQ(OctetElement):
    """Single-point information with quality: b0 SPI, b1-b3 RES, b4-b7 BL SB NT IV (7.2.6.1)."""

    spi: bool
    """Single-point information: ``True`` = ON."""
    quality: Quality = _NO_FLAGS
    """BL, SB, NT, IV."""
    reserved: int = 0
    """RES bits b1-b3, as in the octet (mask 0x0E)."""

    def __post_init__(self) -> None:
        _check(self.quality & ~0xF0 == 0, f"SIQ quality {self.quality!r} has bits outside BL|SB|NT|IV")
        _check(self.reserved & ~0x0E == 0, "SIQ reserved must be within mask 0x0E")

    @classmethod
    def _decode_octet(cls, octet: int) -> SIQ:
        return cls(spi=bool(octet & 1), quality=Quality(octet & 0xF0), reserved=octet & 0x0E)

    @property
    def octet(self) -> int:
        """The SIQ octet."""
        return int(self.spi) | int(self.quality) | self.reserved


@dataclass(**_FROZEN)
class DIQ(OctetElement):
    """Double-point information with quality: b0-b1 DPI, b2-b3 RES, b4-b7 BL SB NT IV (7.2.6.2)."""

    dpi: DoublePoint
    """Double-point state: 0 intermediate, 1 OFF, 2 ON, 3 indeterminate."""
    quality: Quality = _NO_FLAGS
    """BL, SB, NT, IV."""
    reserved: int = 0
    """RES bits b2-b3 (mask 0x0C)."""

    def __post_init__(self) -> None:
        _check(self.dpi in (0, 1, 2, 3), f"DIQ dpi={self.dpi!r} not in 0..3")
        _check(self.quality & ~0xF0 == 0, "DIQ quality has bits outside BL|SB|NT|IV")
        _check(self.reserved & ~0x0C == 0, "DIQ reserved must be within mask 0x0C")

    @classmethod
    def _decode_octet(cls, octet: int) -> DIQ:
        return cls(dpi=DoublePoint(octet & 3), quality=Quality(octet & 0xF0), reserved=octet & 0x0C)

    @property
    def octet(self) -> int:
        """The DIQ octet."""
        return int(self.dpi) | int(self.quality) | self.reserved


@dataclass(**_FROZEN)
class QDS(OctetElement):
    """Quality descriptor: b0 OV, b1-b3 RES, b4-b7 BL SB NT IV (7.2.6.3)."""

    quality: Quality = _NO_FLAGS
    """OV, BL, SB, NT, IV."""
    reserved: int = 0
    """RES bits b1-b3 (mask 0x0E)."""

    def __post_init__(self) -> None:
        _check(self.quality & ~0xF1 == 0, "QDS quality has bits outside OV|BL|SB|NT|IV")
        _check(self.reserved & ~0x0E == 0, "QDS reserved must be within mask 0x0E")

    @classmethod
    def _decode_octet(cls, octet: int) -> QDS:
        return cls(quality=Quality(octet & 0xF1), reserved=octet & 0x0E)

    @property
    def octet(self) -> int:
        """The QDS octet."""
        return int(self.quality) | self.reserved


@dataclass(**_FROZEN)
class QDP(OctetElement):
    """Quality descriptor for protection events: b0-b2 RES, b3-b7 EI BL SB NT IV (7.2.6.4)."""

    quality: Quality = _NO_FLAGS
    """EI, BL, SB, NT, IV."""
    reserved: int = 0
    """RES bits b0-b2 (mask 0x07)."""

    def __post_init__(self) -> None:
        _check(self.quality & ~0xF8 == 0, "QDP quality has bits outside EI|BL|SB|NT|IV")
        _check(self.reserved & ~0x07 == 0, "QDP reserved must be within mask 0x07")

    @classmethod
    def _decode_octet(cls, octet: int) -> QDP:
        return cls(quality=Quality(octet & 0xF8), reserved=octet & 0x07)

    @property
    def octet(self) -> int:
        """The QDP octet."""
        return int(self.quality) | self.reserved


@dataclass(**_FROZEN)
class VTI(OctetElement):
    """Value with transient state indication: b0-b6 I7 value, b7 T (7.2.6.5)."""

    value: int
    """Step position, -64..63."""
    transient: bool = False
    """Equipment in transient state."""

    def __post_init__(self) -> None:
        _sint(self.value, 7, "VTI value")

    @classmethod
    def _decode_octet(cls, octet: int) -> VTI:
        value = octet & 0x7F
        return cls(value=value - 128 if value & 0x40 else value, transient=bool(octet & 0x80))

    @property
    def octet(self) -> int:
        """The VTI octet."""
        return (self.value & 0x7F) | (0x80 if self.transient else 0)


@dataclass(**_FROZEN)
class SEP(OctetElement):
    """Single event of protection equipment: b0-b1 ES, b2 RES, b3-b7 EI BL SB NT IV (7.2.6.10)."""

    es: DoublePoint
    """Event state: 0 indeterminate, 1 OFF, 2 ON, 3 indeterminate."""
    quality: Quality = _NO_FLAGS
    """EI, BL, SB, NT, IV."""
    reserved: int = 0
    """RES bit b2 (mask 0x04)."""

    def __post_init__(self) -> None:
        _check(self.es in (0, 1, 2, 3), f"SEP es={self.es!r} not in 0..3")
        _check(self.quality & ~0xF8 == 0, "SEP quality has bits outside EI|BL|SB|NT|IV")
        _check(self.reserved & ~0x04 == 0, "SEP reserved must be within mask 0x04")

    @classmethod
    def _decode_octet(cls, octet: int) -> SEP:
        return cls(es=DoublePoint(octet & 3), quality=Quality(octet & 0xF8), reserved=octet & 0x04)

    @property
    def octet(self) -> int:
        """The SEP octet."""
        return int(self.es) | int(self.quality) | self.reserved


@dataclass(**_FROZEN)
class SPE(OctetElement):
    """Start events of protection equipment: b0 GS, b1-b3 SL1-3, b4 SIE, b5 SRD (7.2.6.11)."""

    events: StartEvents = _NO_START
    """Start flags."""
    reserved: int = 0
    """RES bits b6-b7 (mask 0xC0)."""

    def __post_init__(self) -> None:
        _check(self.events & ~0x3F == 0, "SPE events outside b0-b5")
        _check(self.reserved & ~0xC0 == 0, "SPE reserved must be within mask 0xC0")

    @classmethod
    def _decode_octet(cls, octet: int) -> SPE:
        return cls(events=StartEvents(octet & 0x3F), reserved=octet & 0xC0)

    @property
    def octet(self) -> int:
        """The SPE octet."""
        return int(self.events) | self.reserved


@dataclass(**_FROZEN)
class OCI(OctetElement):
    """Output circuit information: b0 GC, b1-b3 CL1-3, b4-b7 RES (7.2.6.12)."""

    circuits: OutputCircuit = _NO_CIRCUIT
    """Command flags."""
    reserved: int = 0
    """RES bits b4-b7 (mask 0xF0)."""

    def __post_init__(self) -> None:
        _check(self.circuits & ~0x0F == 0, "OCI circuits outside b0-b3")
        _check(self.reserved & ~0xF0 == 0, "OCI reserved must be within mask 0xF0")

    @classmethod
    def _decode_octet(cls, octet: int) -> OCI:
        return cls(circuits=OutputCircuit(octet & 0x0F), reserved=octet & 0xF0)

    @property
    def octet(self) -> int:
        """The OCI octet."""
        return int(self.circuits) | self.reserved


# --- Commands (101 clause 7.2.6.15-7.2.6.17, 7.2.6.26, 7.2.6.39) -----------------


@dataclass(**_FROZEN)
class SCO(OctetElement):
    """Single command: b0 SCS, b1 RES, b2-b6 QU, b7 S/E (7.2.6.15)."""

    scs: bool
    """Single command state: ``True`` = ON."""
    qu: int = 0
    """Qualifier of command: 0 none, 1 short pulse, 2 long pulse, 3 persistent, 4-31."""
    select: bool = False
    """S/E: ``True`` = select, ``False`` = execute."""
    reserved: int = 0
    """RES bit b1 (mask 0x02)."""

    def __post_init__(self) -> None:
        _uint(self.qu, 5, "SCO qu")
        _check(self.reserved & ~0x02 == 0, "SCO reserved must be within mask 0x02")

    @classmethod
    def _decode_octet(cls, octet: int) -> SCO:
        return cls(
            scs=bool(octet & 1),
            qu=(octet >> 2) & 0x1F,
            select=bool(octet & 0x80),
            reserved=octet & 0x02,
        )

    @property
    def octet(self) -> int:
        """The SCO octet."""
        return int(self.scs) | self.reserved | self.qu << 2 | (0x80 if self.select else 0)


@dataclass(**_FROZEN)
class DCO(OctetElement):
    """Double command: b0-b1 DCS, b2-b6 QU, b7 S/E (7.2.6.16)."""

    dcs: DoubleCommandState
    """Double command state: 1 OFF, 2 ON (0 and 3 not permitted)."""
    qu: int = 0
    """Qualifier of command, 0..31."""
    select: bool = False
    """S/E: ``True`` = select."""

    def __post_init__(self) -> None:
        _check(self.dcs in (0, 1, 2, 3), f"DCO dcs={self.dcs!r} not in 0..3")
        _uint(self.qu, 5, "DCO qu")

    @classmethod
    def _decode_octet(cls, octet: int) -> DCO:
        return cls(dcs=DoubleCommandState(octet & 3), qu=(octet >> 2) & 0x1F, select=bool(octet & 0x80))

    @property
    def octet(self) -> int:
        """The DCO octet."""
        return int(self.dcs) | self.qu << 2 | (0x80 if self.select else 0)


@dataclass(**_FROZEN)
class RCO(OctetElement):
    """Regulating step command: b0-b1 RCS, b2-b6 QU, b7 S/E (7.2.6.17)."""

    rcs: StepCommandState
    """Step: 1 next step LOWER, 2 next step HIGHER (0 and 3 not permitted)."""
    qu: int = 0
    """Qualifier of command, 0..31."""
    select: bool = False
    """S/E: ``True`` = select."""

    def __post_init__(self) -> None:
        _check(self.rcs in (0, 1, 2, 3), f"RCO rcs={self.rcs!r} not in 0..3")
        _uint(self.qu, 5, "RCO qu")

    @classmethod
    def _decode_octet(cls, octet: int) -> RCO:
        return cls(rcs=StepCommandState(octet & 3), qu=(octet >> 2) & 0x1F, select=bool(octet & 0x80))

    @property
    def octet(self) -> int:
        """The RCO octet."""
        return int(self.rcs) | self.qu << 2 | (0x80 if self.select else 0)


@dataclass(**_FROZEN)
class QOS(OctetElement):
    """Qualifier of set-point command: b0-b6 QL, b7 S/E (7.2.6.39)."""

    ql: int = 0
    """0 default, 1-63 reserved, 64-127 private."""
    select: bool = False
    """S/E: ``True`` = select."""

    def __post_init__(self) -> None:
        _uint(self.ql, 7, "QOS ql")

    @classmethod
    def _decode_octet(cls, octet: int) -> QOS:
        return cls(ql=octet & 0x7F, select=bool(octet & 0x80))

    @property
    def octet(self) -> int:
        """The QOS octet."""
        return self.ql | (0x80 if self.select else 0)


# --- System and parameter qualifiers (101 clause 7.2.6.21-7.2.6.27) --------------


@dataclass(**_FROZEN)
class COI(OctetElement):
    """Cause of initialization: b0-b6 cause, b7 BS1 local parameter change (7.2.6.21)."""

    cause: int = 0
    """0 local power on, 1 local manual reset, 2 remote reset, 3-127 reserved/private."""
    local_change: bool = False
    """Initialization after a change of local parameters."""

    def __post_init__(self) -> None:
        _uint(self.cause, 7, "COI cause")

    @classmethod
    def _decode_octet(cls, octet: int) -> COI:
        return cls(cause=octet & 0x7F, local_change=bool(octet & 0x80))

    @property
    def octet(self) -> int:
        """The COI octet."""
        return self.cause | (0x80 if self.local_change else 0)


@dataclass(**_FROZEN)
class QCC(OctetElement):
    """Qualifier of counter interrogation: b0-b5 RQT, b6-b7 FRZ (7.2.6.23)."""

    rqt: int = 5
    """Request: 1-4 counter group, 5 general request counter."""
    frz: int = 0
    """Freeze: 0 read, 1 freeze without reset, 2 freeze with reset, 3 counter reset."""

    def __post_init__(self) -> None:
        _uint(self.rqt, 6, "QCC rqt")
        _uint(self.frz, 2, "QCC frz")

    @classmethod
    def _decode_octet(cls, octet: int) -> QCC:
        return cls(rqt=octet & 0x3F, frz=octet >> 6)

    @property
    def octet(self) -> int:
        """The QCC octet."""
        return self.rqt | self.frz << 6


@dataclass(**_FROZEN)
class QPM(OctetElement):
    """Qualifier of parameter of measured values: b0-b5 KPA, b6 LPC, b7 POP (7.2.6.24)."""

    kpa: int = 0
    """Kind: 1 threshold, 2 smoothing factor, 3 low limit, 4 high limit."""
    lpc: bool = False
    """Local parameter change."""
    pop: bool = False
    """Parameter not in operation."""

    def __post_init__(self) -> None:
        _uint(self.kpa, 6, "QPM kpa")

    @classmethod
    def _decode_octet(cls, octet: int) -> QPM:
        return cls(kpa=octet & 0x3F, lpc=bool(octet & 0x40), pop=bool(octet & 0x80))

    @property
    def octet(self) -> int:
        """The QPM octet."""
        return self.kpa | (0x40 if self.lpc else 0) | (0x80 if self.pop else 0)


@dataclass(**_FROZEN)
class _UI8(OctetElement):
    value: int = 0
    """The qualifier, 0..255."""

    def __post_init__(self) -> None:
        _uint(self.value, 8, f"{type(self).__name__} value")

    @classmethod
    def _decode_octet(cls, octet: int) -> Self:
        return cls(value=octet)

    @property
    def octet(self) -> int:
        """The octet."""
        return self.value


@dataclass(**_FROZEN)
class QOI(_UI8):
    """Qualifier of interrogation, UI8: 20 station, 21-36 group 1-16 (7.2.6.22)."""


@dataclass(**_FROZEN)
class QRP(_UI8):
    """Qualifier of reset process, UI8: 1 general reset, 2 reset time-tagged events (7.2.6.27)."""


@dataclass(**_FROZEN)
class QPA(_UI8):
    """Qualifier of parameter activation, UI8 (7.2.6.25)."""


@dataclass(**_FROZEN)
class NOS(_UI8):
    """Name of section, UI8 (7.2.6.34)."""


@dataclass(**_FROZEN)
class CHS(_UI8):
    """Checksum, UI8: sum modulo 256 (7.2.6.37)."""


@dataclass(**_FROZEN)
class LSQ(_UI8):
    """Last section or segment qualifier, UI8 (7.2.6.31)."""


# --- File transfer qualifiers (101 clause 7.2.6.28-7.2.6.38) ---------------------


@dataclass(**_FROZEN)
class FRQ(OctetElement):
    """File ready qualifier: b0-b6 value, b7 negative confirm (7.2.6.28)."""

    value: int = 0
    """0 default, 1-63 reserved, 64-127 private."""
    negative: bool = False
    """Negative confirm of select, request, deactivate or delete."""

    def __post_init__(self) -> None:
        _uint(self.value, 7, "FRQ value")

    @classmethod
    def _decode_octet(cls, octet: int) -> FRQ:
        return cls(value=octet & 0x7F, negative=bool(octet & 0x80))

    @property
    def octet(self) -> int:
        """The FRQ octet."""
        return self.value | (0x80 if self.negative else 0)


@dataclass(**_FROZEN)
class SRQ(OctetElement):
    """Section ready qualifier: b0-b6 value, b7 section not ready (7.2.6.29)."""

    value: int = 0
    """0 default, 1-63 reserved, 64-127 private."""
    not_ready: bool = False
    """Section not ready to load."""

    def __post_init__(self) -> None:
        _uint(self.value, 7, "SRQ value")

    @classmethod
    def _decode_octet(cls, octet: int) -> SRQ:
        return cls(value=octet & 0x7F, not_ready=bool(octet & 0x80))

    @property
    def octet(self) -> int:
        """The SRQ octet."""
        return self.value | (0x80 if self.not_ready else 0)


@dataclass(**_FROZEN)
class SCQ(OctetElement):
    """Select and call qualifier: b0-b3 action, b4-b7 error (7.2.6.30)."""

    action: int = 0
    """1 select file, 2 request file, 3 deactivate file, 4 delete file, 5 select section,
    6 request section, 7 deactivate section."""
    error: int = 0
    """1 no memory, 2 checksum failed, 3 unexpected service, 4 unexpected file name,
    5 unexpected section name."""

    def __post_init__(self) -> None:
        _uint(self.action, 4, "SCQ action")
        _uint(self.error, 4, "SCQ error")

    @classmethod
    def _decode_octet(cls, octet: int) -> SCQ:
        return cls(action=octet & 0x0F, error=octet >> 4)

    @property
    def octet(self) -> int:
        """The SCQ octet."""
        return self.action | self.error << 4


@dataclass(**_FROZEN)
class AFQ(OctetElement):
    """Acknowledge file or section qualifier: b0-b3 ack, b4-b7 error (7.2.6.32)."""

    ack: int = 0
    """1 positive file, 2 negative file, 3 positive section, 4 negative section."""
    error: int = 0
    """As SCQ ``error``."""

    def __post_init__(self) -> None:
        _uint(self.ack, 4, "AFQ ack")
        _uint(self.error, 4, "AFQ error")

    @classmethod
    def _decode_octet(cls, octet: int) -> AFQ:
        return cls(ack=octet & 0x0F, error=octet >> 4)

    @property
    def octet(self) -> int:
        """The AFQ octet."""
        return self.ack | self.error << 4


@dataclass(**_FROZEN)
class SOF(OctetElement):
    """Status of file: b0-b4 STATUS, b5 LFD, b6 FOR, b7 FA (7.2.6.38)."""

    status: int = 0
    """STATUS, 0..31."""
    last_file: bool = False
    """LFD: last file of the directory."""
    directory: bool = False
    """FOR: the name defines a subdirectory."""
    transfer_active: bool = False
    """FA: file transfer is active."""

    def __post_init__(self) -> None:
        _uint(self.status, 5, "SOF status")

    @classmethod
    def _decode_octet(cls, octet: int) -> SOF:
        return cls(
            status=octet & 0x1F,
            last_file=bool(octet & 0x20),
            directory=bool(octet & 0x40),
            transfer_active=bool(octet & 0x80),
        )

    @property
    def octet(self) -> int:
        """The SOF octet."""
        return self.status | self.last_file << 5 | self.directory << 6 | self.transfer_active << 7


# --- Multi-octet values (101 clause 7.2.6.6-7.2.6.9, 7.2.6.13-14, 7.2.6.33-36, 7.2.6.40) ---


@dataclass(**_FROZEN)
class NVA(Element):
    """Normalized value: I16 LE, value = raw / 32768, in [-1, 1 - 2**-15] (7.2.6.6)."""

    FORMAT = "h"
    raw: int
    """The two's complement integer on the wire, -32768..32767."""

    def __post_init__(self) -> None:
        _sint(self.raw, 16, "NVA raw")

    @property
    def value(self) -> float:
        """The normalized value, ``raw / 32768`` (dimensionless, -1.0 <= value < 1.0)."""
        return self.raw / 32768

    @classmethod
    def from_value(cls, value: float) -> NVA:
        """Build from a float in [-1, 1), rounding to the nearest step of 2**-15.

        Raises:
            EncodeError: ``value`` is not finite or is outside [-1.0, 32767/32768].
        """
        _check(isinstance(value, int | float) and math.isfinite(value), f"NVA value {value!r} is not a finite number")
        raw = round(value * 32768)
        _check(-32768 <= raw <= 32767, f"NVA value {value!r} outside [-1, 1)")
        return cls(raw=raw)

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> NVA:
        """Build from ``(raw,)``."""
        return cls(raw=raw[0])  # type: ignore[arg-type]

    def to_raw(self) -> tuple[int]:
        """Return ``(raw,)``."""
        return (self.raw,)


@dataclass(**_FROZEN)
class SVA(Element):
    """Scaled value: I16 LE, -32768..32767 (7.2.6.7)."""

    FORMAT = "h"
    value: int
    """The scaled value (units are agreed per point)."""

    def __post_init__(self) -> None:
        _sint(self.value, 16, "SVA value")

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> SVA:
        """Build from ``(value,)``."""
        return cls(value=raw[0])  # type: ignore[arg-type]

    def to_raw(self) -> tuple[int]:
        """Return ``(value,)``."""
        return (self.value,)


_BINARY32 = struct.Struct("<f")


@dataclass(frozen=True, slots=True, init=False, repr=False)
class R32(Element):
    """Short floating point number, IEEE STD 754 binary32 LE (7.2.6.8).

    The element keeps the 32 bits as received, so every pattern re-encodes
    unchanged, a signalling NaN and NaN payloads included (a Python float would
    quieten them). Build it from a number, ``R32(value=12.5)`` or
    :meth:`from_value`, or from the bits, ``R32(bits=0x41480000)``. A number that a
    binary32 cannot hold exactly is rounded to the nearest binary32 at once, so
    ``value`` reads back the number as it goes on the wire.

    Raises:
        EncodeError: not exactly one of ``value`` and ``bits`` given, ``value`` not a
            number or beyond the binary32 range (|value| > 3.4028235e38, not infinite),
            ``bits`` not in 0..2**32-1.
    """

    FORMAT = "I"
    bits: int
    """The binary32 pattern as an unsigned integer (octets on the wire, little-endian)."""

    def __init__(self, value: float | None = None, *, bits: int | None = None) -> None:
        if (value is None) == (bits is None):
            raise EncodeError("R32 needs exactly one of value and bits")
        if bits is None:
            bits = _binary32_bits(value)
        else:
            _uint(bits, 32, "R32 bits")
        object.__setattr__(self, "bits", bits)

    @classmethod
    def from_value(cls, value: float) -> R32:
        """Build from a number, rounded to the nearest binary32 (same as ``R32(value=...)``)."""
        return cls(value=value)

    @property
    def value(self) -> float:
        """The number (NaN and infinities as such; a NaN payload is only in ``bits``)."""
        return float(_BINARY32.unpack(self.bits.to_bytes(4, "little"))[0])

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> R32:
        """Build from ``(bits,)``."""
        return cls(bits=raw[0])  # type: ignore[arg-type]

    def to_raw(self) -> tuple[int]:
        """Return ``(bits,)``."""
        return (self.bits,)

    def __repr__(self) -> str:
        value = self.value
        return f"R32(bits=0x{self.bits:08x})" if value != value else f"R32(value={value!r})"


def _binary32_bits(value: object) -> int:
    """The binary32 pattern nearest to ``value`` (the standard's rounding).

    Raises:
        EncodeError: ``value`` is not a number or too large for a binary32.
    """
    _check(isinstance(value, int | float), f"R32 value {value!r} is not a number")
    try:
        return int.from_bytes(_BINARY32.pack(value), "little")
    except (OverflowError, struct.error) as exc:
        raise EncodeError(f"cannot encode R32 value {value!r}: beyond the binary32 range ({exc})") from None


@dataclass(**_FROZEN)
class BCR(Element):
    """Binary counter reading: I32 LE counter, then SQ(b0-b4) CY(b5) CA(b6) IV(b7) (7.2.6.9)."""

    FORMAT = "iB"
    counter: int
    """Counter reading, signed 32-bit."""
    sequence: int = 0
    """Sequence notation SQ, 0..31."""
    carry: bool = False
    """CY: counter overflow in the integration period."""
    adjusted: bool = False
    """CA: counter was adjusted since the last reading."""
    invalid: bool = False
    """IV: reading is invalid."""

    def __post_init__(self) -> None:
        _sint(self.counter, 32, "BCR counter")
        _uint(self.sequence, 5, "BCR sequence")

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> BCR:
        """Build from ``(counter, flags_octet)``."""
        counter, flags = raw
        assert isinstance(flags, int)
        return cls(
            counter=counter,  # type: ignore[arg-type]
            sequence=flags & 0x1F,
            carry=bool(flags & 0x20),
            adjusted=bool(flags & 0x40),
            invalid=bool(flags & 0x80),
        )

    def to_raw(self) -> tuple[int, int]:
        """Return ``(counter, flags_octet)``."""
        flags = self.sequence | self.carry << 5 | self.adjusted << 6 | self.invalid << 7
        return (self.counter, flags)


@dataclass(**_FROZEN)
class BSI(Element):
    """Binary state information, 32-bit bitstring, LE: bit 1 of the standard is b0 of octet 0 (7.2.6.13)."""

    FORMAT = "I"
    value: int
    """The bitstring as an unsigned 32-bit integer (wire octets little-endian)."""

    def __post_init__(self) -> None:
        _uint(self.value, 32, "BSI value")

    @property
    def octets(self) -> bytes:
        """The four wire octets."""
        return self.value.to_bytes(4, "little")

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> BSI:
        """Build from ``(value,)``."""
        return cls(value=raw[0])  # type: ignore[arg-type]

    def to_raw(self) -> tuple[int]:
        """Return ``(value,)``."""
        return (self.value,)


@dataclass(**_FROZEN)
class _UI16(Element):
    FORMAT = "H"
    value: int
    """UI16, 0..65535."""

    def __post_init__(self) -> None:
        _uint(self.value, 16, f"{type(self).__name__} value")

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> Self:
        """Build from ``(value,)``."""
        return cls(value=raw[0])  # type: ignore[arg-type]

    def to_raw(self) -> tuple[int]:
        """Return ``(value,)``."""
        return (self.value,)


@dataclass(**_FROZEN)
class FBP(_UI16):
    """Fixed test bit pattern, UI16 LE, normally 0x55AA (wire ``aa 55``) (7.2.6.14)."""

    value: int = 0x55AA


@dataclass(**_FROZEN)
class TSC(_UI16):
    """Test sequence counter, UI16 LE (-104 clause 8.7, C_TS_TA_1)."""


@dataclass(**_FROZEN)
class NOF(_UI16):
    """Name of file, UI16 LE; 0 = default (7.2.6.33)."""


@dataclass(**_FROZEN)
class SCD(Element):
    """Status and status change detection: ST1-16 UI16 LE, then CD1-16 UI16 LE (7.2.6.40)."""

    FORMAT = "HH"
    st: int
    """Status bits, STn = bit n-1."""
    cd: int = 0
    """Status change detection bits, CDn = bit n-1."""

    def __post_init__(self) -> None:
        _uint(self.st, 16, "SCD st")
        _uint(self.cd, 16, "SCD cd")

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> SCD:
        """Build from ``(st, cd)``."""
        return cls(st=raw[0], cd=raw[1])  # type: ignore[arg-type]

    def to_raw(self) -> tuple[int, int]:
        """Return ``(st, cd)``."""
        return (self.st, self.cd)


@dataclass(**_FROZEN)
class LOF(Element):
    """Length of file or section, UI24 LE, octets (7.2.6.35)."""

    FORMAT = "HB"
    value: int
    """Length in octets, 0..16777215."""

    def __post_init__(self) -> None:
        _uint(self.value, 24, "LOF value")

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> LOF:
        """Build from ``(low16, high8)``."""
        return cls(value=raw[0] | raw[1] << 16)  # type: ignore[operator]

    def to_raw(self) -> tuple[int, int]:
        """Return ``(low16, high8)``."""
        return (self.value & 0xFFFF, self.value >> 16)


@dataclass(**_FROZEN)
class Segment(Element):
    """File segment: LOS (UI8, octets that follow) and the segment octets (7.2.6.36).

    The only element whose size depends on its content (F_SG_NA_1).
    """

    FORMAT = ""
    data: bytes
    """Segment octets, at most 255 (and what fits in the ASDU)."""

    def __post_init__(self) -> None:
        _check(
            isinstance(self.data, bytes) and len(self.data) <= 255,
            "Segment data must be bytes of length <= 255",
        )


# --- Time tags (101 clause 7.2.6.18-7.2.6.20) -------------------------------------


@dataclass(**_FROZEN)
class CP16Time2a(Element):
    """Binary time, 2 octets: UI16 LE milliseconds 0..59999 (7.2.6.20).

    Used for elapsed time, relay duration and operating time (M_EP_*) and the
    delay of C_CD_NA_1. Values above 59999 are kept as they are.
    """

    FORMAT = "H"
    milliseconds: int
    """Milliseconds, normally 0..59999."""

    def __post_init__(self) -> None:
        _uint(self.milliseconds, 16, "CP16Time2a milliseconds")

    def to_timedelta(self) -> _dt.timedelta:
        """Return the duration."""
        return _dt.timedelta(milliseconds=self.milliseconds)

    @classmethod
    def from_timedelta(cls, delta: _dt.timedelta) -> CP16Time2a:
        """Build from a duration, rounded to whole milliseconds.

        Raises:
            EncodeError: the duration is negative or 65.536 s or longer.
        """
        return cls(milliseconds=round(delta.total_seconds() * 1000))

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> CP16Time2a:
        """Build from ``(milliseconds,)``."""
        return cls(milliseconds=raw[0])  # type: ignore[arg-type]

    def to_raw(self) -> tuple[int]:
        """Return ``(milliseconds,)``."""
        return (self.milliseconds,)


class _TimeOctets(Element):
    """Fields of the first three octets shared by CP24Time2a and CP56Time2a (7.2.6.18-19)."""

    __slots__ = ()
    raw: bytes

    @property
    def milliseconds(self) -> int:
        """Milliseconds within the minute, normally 0..59999."""
        return self.raw[0] | self.raw[1] << 8

    @property
    def minute(self) -> int:
        """Minutes, 0..63 on the wire (valid 0..59)."""
        return self.raw[2] & 0x3F

    @property
    def substituted(self) -> bool:
        """RES1/GEN bit: time substituted (optional per the interoperability list)."""
        return bool(self.raw[2] & 0x40)

    @property
    def invalid(self) -> bool:
        """IV: the time tag is invalid."""
        return bool(self.raw[2] & 0x80)


@dataclass(**_FROZEN)
class CP24Time2a(_TimeOctets):
    """Binary time, 3 octets: milliseconds UI16 LE, then minutes b0-b5, RES1 b6, IV b7 (7.2.6.19).

    The raw octets are kept; fields are read-only properties.
    """

    FORMAT = "3s"
    raw: bytes
    """The three wire octets."""

    def __post_init__(self) -> None:
        _check(isinstance(self.raw, bytes) and len(self.raw) == 3, "CP24Time2a raw must be 3 octets")

    def to_timedelta(self) -> _dt.timedelta:
        """Return minutes and milliseconds within the hour as a duration."""
        return _dt.timedelta(minutes=self.minute, milliseconds=self.milliseconds)

    @classmethod
    def from_timedelta(cls, delta: _dt.timedelta, *, invalid: bool = False, substituted: bool = False) -> CP24Time2a:
        """Build from the minutes and milliseconds of ``delta`` within the hour.

        Raises:
            EncodeError: ``delta`` is negative.
        """
        ms = round(delta.total_seconds() * 1000)
        _check(ms >= 0, "CP24Time2a needs a non-negative duration")
        minute, ms = divmod(ms % 3_600_000, 60_000)
        octet2 = minute | (0x40 if substituted else 0) | (0x80 if invalid else 0)
        return cls(raw=bytes((ms & 0xFF, ms >> 8, octet2)))

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> CP24Time2a:
        """Build from ``(three_octets,)``."""
        return cls(raw=raw[0])  # type: ignore[arg-type]

    def to_raw(self) -> tuple[bytes]:
        """Return ``(three_octets,)``."""
        return (self.raw,)


@dataclass(**_FROZEN)
class CP56Time2a(_TimeOctets):
    """Binary time, 7 octets (7.2.6.18).

    Layout: octets 0-1 milliseconds UI16 LE (0..59999); octet 2 minutes b0-b5,
    RES1/substituted b6, IV b7; octet 3 hours b0-b4, RES2 b5-b6, SU b7; octet 4
    day of month b0-b4, day of week b5-b7 (1 = Monday, 0 = not used); octet 5
    month b0-b3, RES3 b4-b7; octet 6 year b0-b6 (0..99), RES4 b7.

    The raw octets are the only field, so nothing is lost (a year written as
    109 stays 109); the fields are read-only properties.
    """

    FORMAT = "7s"
    raw: bytes
    """The seven wire octets."""

    def __post_init__(self) -> None:
        _check(isinstance(self.raw, bytes) and len(self.raw) == 7, "CP56Time2a raw must be 7 octets")

    @property
    def hour(self) -> int:
        """Hours, 0..31 on the wire (valid 0..23)."""
        return self.raw[3] & 0x1F

    @property
    def summer_time(self) -> bool:
        """SU: summer time."""
        return bool(self.raw[3] & 0x80)

    @property
    def day(self) -> int:
        """Day of month, 0..31 on the wire (valid 1..31)."""
        return self.raw[4] & 0x1F

    @property
    def day_of_week(self) -> int:
        """Day of week: 1 = Monday .. 7 = Sunday, 0 = not used."""
        return self.raw[4] >> 5

    @property
    def month(self) -> int:
        """Month, 0..15 on the wire (valid 1..12)."""
        return self.raw[5] & 0x0F

    @property
    def year(self) -> int:
        """Year within the century, 0..127 on the wire (valid 0..99)."""
        return self.raw[6] & 0x7F

    @property
    def reserved(self) -> int:
        """RES2 (octet 3 b5-b6), RES3 (octet 5 b4-b7) and RES4 (octet 6 b7) as ``res2 | res3 << 2 | res4 << 6``."""
        return (self.raw[3] >> 5) & 3 | (self.raw[5] >> 4) << 2 | (self.raw[6] >> 7) << 6

    def to_datetime(self, century: int = 2000, tzinfo: _dt.tzinfo | None = None) -> _dt.datetime:
        """Return the time as a ``datetime`` (naive unless ``tzinfo`` is given).

        Invalid and summer-time bits are not part of the result; read
        ``invalid`` and ``summer_time``.

        Raises:
            ValueError: a field is out of its calendar range (e.g. year 109,
                month 0, minute 60); the raw octets stay available.
        """
        second, ms = divmod(self.milliseconds, 1000)
        if self.year > 99:
            raise ValueError(f"CP56Time2a year {self.year} is outside 0..99")
        return _dt.datetime(
            century + self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            second,
            ms * 1000,
            tzinfo,
        )

    @classmethod
    def from_datetime(
        cls,
        when: _dt.datetime,
        *,
        invalid: bool = False,
        summer_time: bool = False,
        substituted: bool = False,
        day_of_week: bool = True,
    ) -> CP56Time2a:
        """Build from a ``datetime`` (its wall-clock fields, tzinfo ignored), truncating to milliseconds.

        Args:
            when: The time; its year must be in 2000..2099 (the implicit century).
            invalid: Set IV.
            summer_time: Set SU.
            substituted: Set RES1/GEN.
            day_of_week: Fill in the day of week (1 = Monday); ``False`` writes 0 (not used).

        Raises:
            EncodeError: the year is outside 2000..2099.
        """
        _check(2000 <= when.year <= 2099, f"CP56Time2a year {when.year} outside 2000..2099")
        ms = when.second * 1000 + when.microsecond // 1000
        dow = when.isoweekday() if day_of_week else 0
        return cls(
            raw=bytes(
                (
                    ms & 0xFF,
                    ms >> 8,
                    when.minute | (0x40 if substituted else 0) | (0x80 if invalid else 0),
                    when.hour | (0x80 if summer_time else 0),
                    when.day | dow << 5,
                    when.month,
                    when.year - 2000,
                )
            )
        )

    @classmethod
    def from_raw(cls, *raw: int | float | bytes) -> CP56Time2a:
        """Build from ``(seven_octets,)``."""
        return cls(raw=raw[0])  # type: ignore[arg-type]

    def to_raw(self) -> tuple[bytes]:
        """Return ``(seven_octets,)``."""
        return (self.raw,)
