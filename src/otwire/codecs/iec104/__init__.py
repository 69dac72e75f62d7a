"""IEC 60870-5-104 codec: APDUs, ASDUs and information elements.

Pure functions over complete frames (no state, clock or I/O):

>>> from otwire.codecs.iec104 import decode_apdu, encode_apdu
>>> apdu = decode_apdu(bytes.fromhex("680e0000000064010600 2f00 000000 14".replace(" ", "")))
>>> apdu.asdu.type_id.name, apdu.asdu.cot.name, apdu.asdu.common_address
('C_IC_NA_1', 'ACTIVATION', 47)
>>> encode_apdu(apdu).hex()
'680e00000000640106002f0000000014'

:class:`APDUFramer` cuts a TCP byte stream into frames first.

The elements, layouts and types are imported with the package; the APDU, ASDU and framing
names on first use (module ``__getattr__``), so a program that only formats elements does
not load the codecs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otwire.codecs.iec104.elements import (
    AFQ,
    BCR,
    BSI,
    CHS,
    COI,
    DCO,
    DIQ,
    FBP,
    FRQ,
    LOF,
    LSQ,
    NOF,
    NOS,
    NVA,
    OCI,
    QCC,
    QDP,
    QDS,
    QOI,
    QOS,
    QPA,
    QPM,
    QRP,
    R32,
    RCO,
    SCD,
    SCO,
    SCQ,
    SEP,
    SIQ,
    SOF,
    SPE,
    SRQ,
    SVA,
    TSC,
    VTI,
    CP16Time2a,
    CP24Time2a,
    CP56Time2a,
    Element,
    OctetElement,
    Segment,
)
from otwire.codecs.iec104.layouts import LAYOUTS
from otwire.codecs.iec104.types import (
    Cot,
    DoubleCommandState,
    DoublePoint,
    OutputCircuit,
    Quality,
    StartEvents,
    StepCommandState,
    TypeId,
    UFunction,
)

if TYPE_CHECKING:
    from otwire.codecs.iec104.apci import (
        APDU,
        IFrame,
        SFrame,
        UFrame,
        decode_apdu,
        decode_apdu_schema,
        encode_apdu,
        encode_iframe,
        encode_sframe,
        encode_uframe,
    )
    from otwire.codecs.iec104.asdu import (
        ASDU,
        GLOBAL_ADDRESS,
        InformationObject,
        decode_asdu,
        decode_asdu_schema,
        encode_asdu,
        encode_asdu_schema,
    )
    from otwire.codecs.iec104.framing import (
        APDUFramer,
        Junk,
        LengthError,
        RawAPDU,
    )

#: Names imported from their module on first access: the APDU and ASDU codecs and the framer.
_ON_DEMAND = {
    "APDU": "otwire.codecs.iec104.apci",
    "IFrame": "otwire.codecs.iec104.apci",
    "SFrame": "otwire.codecs.iec104.apci",
    "UFrame": "otwire.codecs.iec104.apci",
    "decode_apdu": "otwire.codecs.iec104.apci",
    "decode_apdu_schema": "otwire.codecs.iec104.apci",
    "encode_apdu": "otwire.codecs.iec104.apci",
    "encode_iframe": "otwire.codecs.iec104.apci",
    "encode_sframe": "otwire.codecs.iec104.apci",
    "encode_uframe": "otwire.codecs.iec104.apci",
    "ASDU": "otwire.codecs.iec104.asdu",
    "GLOBAL_ADDRESS": "otwire.codecs.iec104.asdu",
    "InformationObject": "otwire.codecs.iec104.asdu",
    "decode_asdu": "otwire.codecs.iec104.asdu",
    "decode_asdu_schema": "otwire.codecs.iec104.asdu",
    "encode_asdu": "otwire.codecs.iec104.asdu",
    "encode_asdu_schema": "otwire.codecs.iec104.asdu",
    "APDUFramer": "otwire.codecs.iec104.framing",
    "Junk": "otwire.codecs.iec104.framing",
    "LengthError": "otwire.codecs.iec104.framing",
    "RawAPDU": "otwire.codecs.iec104.framing",
}

__all__ = [
    "AFQ",
    "APDU",
    "ASDU",
    "BCR",
    "BSI",
    "CHS",
    "COI",
    "DCO",
    "DIQ",
    "FBP",
    "FRQ",
    "GLOBAL_ADDRESS",
    "LAYOUTS",
    "LOF",
    "LSQ",
    "NOF",
    "NOS",
    "NVA",
    "OCI",
    "QCC",
    "QDP",
    "QDS",
    "QOI",
    "QOS",
    "QPA",
    "QPM",
    "QRP",
    "R32",
    "RCO",
    "SCD",
    "SCO",
    "SCQ",
    "SEP",
    "SIQ",
    "SOF",
    "SPE",
    "SRQ",
    "SVA",
    "TSC",
    "VTI",
    "APDUFramer",
    "CP16Time2a",
    "CP24Time2a",
    "CP56Time2a",
    "Cot",
    "DoubleCommandState",
    "DoublePoint",
    "Element",
    "IFrame",
    "InformationObject",
    "Junk",
    "LengthError",
    "OctetElement",
    "OutputCircuit",
    "Quality",
    "RawAPDU",
    "SFrame",
    "Segment",
    "StartEvents",
    "StepCommandState",
    "TypeId",
    "UFrame",
    "UFunction",
    "decode_apdu",
    "decode_apdu_schema",
    "decode_asdu",
    "decode_asdu_schema",
    "encode_apdu",
    "encode_asdu",
    "encode_asdu_schema",
    "encode_iframe",
    "encode_sframe",
    "encode_uframe",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    """Import an :data:`_ON_DEMAND` name from its module on first access, then keep it here.

    Raises:
        AttributeError: ``name`` is not a name of the package.
    """
    module = _ON_DEMAND.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The package's names, with those still to be imported on first use."""
    return sorted({*globals(), *_ON_DEMAND})
