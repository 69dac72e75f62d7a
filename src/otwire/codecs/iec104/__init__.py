"""IEC 60870-5-104 codec: APDUs, ASDUs and information elements.

Pure functions over complete frames (no state, clock or I/O):

>>> from otwire.codecs.iec104 import decode_apdu, encode_apdu
>>> apdu = decode_apdu(bytes.fromhex("680e0000000064010600 2f00 000000 14".replace(" ", "")))
>>> apdu.asdu.type_id.name, apdu.asdu.cot.name, apdu.asdu.common_address
('C_IC_NA_1', 'ACTIVATION', 47)
>>> encode_apdu(apdu).hex()
'680e00000000640106002f0000000014'

:class:`APDUFramer` cuts a TCP byte stream into frames first.
"""

from __future__ import annotations

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
    InformationObject,
    decode_asdu,
    decode_asdu_schema,
    encode_asdu,
    encode_asdu_schema,
)
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
from otwire.codecs.iec104.framing import (
    APDUFramer,
    Junk,
    LengthError,
    RawAPDU,
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

__all__ = [
    "AFQ", "APDU", "ASDU", "BCR", "BSI", "CHS", "COI", "DCO", "DIQ", "FBP", "FRQ", "LAYOUTS",
    "LOF", "LSQ", "NOF", "NOS", "NVA", "OCI", "QCC", "QDP", "QDS", "QOI", "QOS", "QPA", "QPM",
    "QRP", "R32", "RCO", "SCD", "SCO", "SCQ", "SEP", "SIQ", "SOF", "SPE", "SRQ", "SVA", "TSC",
    "VTI", "APDUFramer", "CP16Time2a", "CP24Time2a", "CP56Time2a", "Cot", "DoubleCommandState",
    "DoublePoint", "Element", "IFrame", "InformationObject", "Junk", "LengthError",
    "OctetElement", "OutputCircuit", "Quality", "RawAPDU", "SFrame", "Segment", "StartEvents",
    "StepCommandState", "TypeId", "UFrame", "UFunction", "decode_apdu", "decode_apdu_schema",
    "decode_asdu", "decode_asdu_schema", "encode_apdu", "encode_asdu", "encode_asdu_schema",
    "encode_iframe", "encode_sframe", "encode_uframe",
]  # fmt: skip
