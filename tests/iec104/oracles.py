"""Adapters around two independent IEC 60870-5-104 decoders, used as test oracles.

* :func:`c104_header` -- header-level decode by ``c104.explain_bytes_dict``
  (c104 2.2.1, C++ wrapper around a lib60870-C fork).
* :func:`scapy_values` -- element-level decode by scapy's
  ``scapy.contrib.scada.iec104`` layer (scapy 2.8.0).

Both are GPL and may only be used from tests and benchmarks; ``src/otwire`` never
imports them.  Both adapters return plain dicts built from ``int``/``bool``/
``float``/``str``/``tuple``/``None`` values, so that a test can compare them with
the same dicts built from otwire's codec.

Header keys (always all present, ``None`` where not applicable)::

    format              "I" | "S" | "U"   (None: the oracle did not recognise an APDU)
    ns, nr              int, 15-bit send / receive sequence numbers
    u_function          "STARTDT_ACT" | "STARTDT_CON" | "STOPDT_ACT" | "STOPDT_CON"
                        | "TESTFR_ACT" | "TESTFR_CON"           (U frames only)
    type_id             int                                      (I frames only, same below)
    cot                 int, the 6-bit cause of transmission
    negative, test      bool, the P/N and T bits of the COT octet
    originator_address  int
    common_address      int
    number              int, the N of the VSQ (as written, not as counted)
    sq                  bool, the SQ bit of the VSQ
    first_ioa           int, or None when the oracle reports no object
"""

from __future__ import annotations

from typing import Any

import c104
from scapy.config import conf as _scapy_conf
from scapy.contrib.scada import iec104 as _scapy_iec104
from scapy.contrib.scada.iec104.iec104_fields import LEIEEEFloatField
from scapy.packet import NoPayload

__all__ = [
    "HEADER_KEYS",
    "U_FUNCTIONS",
    "c104_header",
    "scapy_values",
    "without_scapy_extras",
]

HEADER_KEYS = (
    "format",
    "ns",
    "nr",
    "u_function",
    "type_id",
    "cot",
    "negative",
    "test",
    "originator_address",
    "common_address",
    "number",
    "sq",
    "first_ioa",
)

U_FUNCTIONS = (
    "STARTDT_ACT",
    "STARTDT_CON",
    "STOPDT_ACT",
    "STOPDT_CON",
    "TESTFR_ACT",
    "TESTFR_CON",
)


def _empty_header() -> dict[str, Any]:
    return dict.fromkeys(HEADER_KEYS)


# --------------------------------------------------------------------------- c104


def c104_header(frame: bytes) -> dict[str, Any]:
    """Decode the APCI and the ASDU header of one APDU with ``c104.explain_bytes_dict``.

    Returns a dict with exactly the keys of :data:`HEADER_KEYS` (see the module
    docstring).  ``explain_bytes_dict`` reports ``format``, ``tx``/``rx``, ``type``
    (a ``c104.Type``; unknown ids print as ``Type.???`` but ``int()`` still gives
    the id), ``cot`` (a ``c104.Cot``, same), ``negative``, ``test``,
    ``originatorAddress``, ``commonAddress``, ``numberOfObjects``, ``sequence``,
    ``firstInformationObjectAddress`` and, not mapped here, ``elements`` (hex text
    of everything after the ASDU header, IOA included) and ``select`` (commands).
    For U frames it gives ``type`` ("STARTDT"/"STOPDT"/"TESTFR") and ``cot``
    ("ACT"/"CON") as strings; for S frames only ``rx``.

    c104 quirks (all verified with c104 2.2.1):

    * It reads past the end of the buffer: ``b""``, ``68 04 01 00`` or an
      I frame shorter than 12 octets are "explained" from whatever memory follows
      (``b""`` came back as COT 63, P/N, T, CA 15258, OA 201).  This adapter
      therefore raises ``ValueError`` for frames shorter than 6 octets and for
      I frames shorter than 12 octets.
    * Neither the start octet nor the length octet is checked:
      ``69 04 07 00 00 00`` is STARTDT_ACT, and an I frame whose L is smaller or
      larger than the buffer is explained from the whole buffer.
    * The format comes from C1 alone; C3 bit 0 is ignored (``68 04 01 00 0b 00`` is
      S with N(R)=5) and so are C1 bits 2-7 of an S frame (``68 04 fd 00 aa 00`` is
      S with N(R)=85).
    * U frames with several function bits are reported as the *highest* set bit:
      ``68 04 47 00 00 00`` -> TESTFR_ACT, ``68 04 0f 00 00 00`` -> STARTDT_CON,
      ``68 04 ff 00 00 00`` -> TESTFR_CON; with no function bit
      (``68 04 03 00 00 00``) there is no type and ``u_function`` is ``None``.
      C2..C4 of a U frame are ignored.
    * ``numberOfObjects`` is the VSQ N as written, never checked against the
      length (N=0 with an object present, N=1 with trailing octets: no complaint).
    * ``firstInformationObjectAddress`` is reported whenever at least 3 octets
      follow the ASDU header, even for N=0; it is missing (-> ``None``) when fewer
      follow.
    """
    frame = bytes(frame)
    if len(frame) < 6:
        raise ValueError(f"APDU of {len(frame)} octets: c104.explain_bytes_dict would read past the buffer")
    explained = c104.explain_bytes_dict(apdu=frame)
    out = _empty_header()
    fmt = explained.get("format")
    out["format"] = fmt
    if fmt == "I":
        if len(frame) < 12:
            raise ValueError(
                f"I frame of {len(frame)} octets has no complete ASDU header: "
                "c104.explain_bytes_dict would read past the buffer"
            )
        out["ns"] = int(explained["tx"])
        out["nr"] = int(explained["rx"])
        out["type_id"] = int(explained["type"])
        out["cot"] = int(explained["cot"])
        out["negative"] = bool(explained["negative"])
        out["test"] = bool(explained["test"])
        out["originator_address"] = int(explained["originatorAddress"])
        out["common_address"] = int(explained["commonAddress"])
        out["number"] = int(explained["numberOfObjects"])
        out["sq"] = bool(explained["sequence"])
        first = explained.get("firstInformationObjectAddress")
        out["first_ioa"] = None if first is None else int(first)
    elif fmt == "S":
        out["nr"] = int(explained["rx"])
    elif fmt == "U":
        if "type" in explained:
            name = f"{explained['type']}_{explained['cot']}"
            if name not in U_FUNCTIONS:
                raise ValueError(f"unexpected U function from c104: {explained!r}")
            out["u_function"] = name
    else:
        raise ValueError(f"unexpected format from c104: {explained!r}")
    return out


# -------------------------------------------------------------------------- scapy

# An SQ=1 ASDU may carry up to 240 one-octet elements (127 by VSQ N), but scapy's
# PacketListField stops at conf.max_list_count (default 100) and raises
# MaximumItemsCount -- e.g. for c104's GI answer "01 ff ..." (127 x M_SP_NA_1).
# Raise the global limit once; this only affects test processes.
_scapy_conf.max_list_count = max(_scapy_conf.max_list_count, 256)

_iec104_decode = _scapy_iec104.iec104_decode
_RAW = _scapy_conf.raw_layer
_S_MESSAGE = _scapy_iec104.IEC104_S_Message
_U_MESSAGE = _scapy_iec104.IEC104_U_Message
_I_SEQ = _scapy_iec104.IEC104_I_Message_SeqIOA
_I_SINGLE = _scapy_iec104.IEC104_I_Message_SingleIOA

_U_BITS = (
    ("startdt_act", "STARTDT_ACT"),
    ("startdt_con", "STARTDT_CON"),
    ("stopdt_act", "STOPDT_ACT"),
    ("stopdt_con", "STOPDT_CON"),
    ("testfr_act", "TESTFR_ACT"),
    ("testfr_con", "TESTFR_CON"),
)

# scapy field name -> (our key, converter); used for every information object class.
_SIMPLE_FIELDS: dict[str, tuple[str, Any]] = {
    # quality descriptors SIQ / DIQ / QDS / QDP / SEP
    "iv": ("iv", bool),
    "nt": ("nt", bool),
    "sb": ("sb", bool),
    "bl": ("bl", bool),
    "ov": ("ov", bool),
    "ei": ("ei", bool),
    "spi_value": ("spi", int),
    "dpi_value": ("dpi", int),
    "es": ("es", int),
    # VTI
    "transient_state": ("transient", bool),
    "value": ("value", int),
    # NVA: scapy stores the raw I16 (it only *displays* raw/32768)
    "normed_value": ("nva_raw", int),
    # BCR
    "counter_value": ("counter", int),
    # SPE
    "gs": ("gs", bool),
    "sl1": ("sl1", bool),
    "sl2": ("sl2", bool),
    "sl3": ("sl3", bool),
    "sie": ("sie", bool),
    "srd": ("srd", bool),
    # OCI
    "gc": ("gc", bool),
    "cl1": ("cl1", bool),
    "cl2": ("cl2", bool),
    "cl3": ("cl3", bool),
    # CP16Time2a (elapsed time / relay duration / relay operating time)
    "elapsed_sec_milli": ("cp16", int),
    "prot_act_sec_milli": ("cp16", int),
    "prot_cmd_sec_milli": ("cp16", int),
    # SCO / DCO / RCO (QOC) and QOS
    "s_or_e": ("select", bool),
    "qu": ("qu", int),
    "scs": ("state", bool),
    "dcs": ("state", int),
    "rcs": ("state", int),
    "action": ("select", bool),
    "ql": ("ql", int),
    # COI, QOI, QCC, QRP, QPA, QPM, FBP, TSC
    "coi": ("coi", int),
    "local_param_state": ("coi_changed", bool),
    "qoi": ("qoi", int),
    "rqt": ("rqt", int),
    "frz": ("frz", int),
    "qrp": ("qrp", int),
    "qpa": ("qpa", int),
    "kpa": ("kpa", int),
    "lpc": ("lpc", bool),
    "pop": ("pop", bool),
    "fbp": ("fbp", int),
    "tsc": ("tsc", int),
    # file transfer
    "file_name": ("nof", int),
    "section_name": ("nos", int),
    "fr": ("frq", int),
    "fr_ack": ("frq_negative", bool),
    "sr": ("srq", int),
    "section_load_state": ("srq_not_ready", bool),
    "lsq": ("lsq", int),
    "checksum": ("chs", int),
    "status": ("sof_status", int),
    "lfd": ("sof_lfd", bool),
    "for_": ("sof_for", bool),
    "fa": ("sof_fa", bool),
    "segment_length": ("los", int),
    "data": ("segment", bytes.hex),
}

# BCR uses the same scapy names as quality bits for different things.
_BCR_FIELDS = {
    "iv": ("invalid", bool),
    "ca": ("adjusted", bool),
    "cy": ("carry", bool),
    "sq": ("sequence", int),
}

_CP56 = (
    "sec_milli",
    "minutes",
    "iv_time",
    "hours",
    "su",
    "day_of_month",
    "weekday",
    "month",
    "year",
)
_CP24 = ("sec_milli", "minutes", "iv_time")
_GROUPED = {*_CP56, "gen", "bsi", "file_length"}
_GROUPED |= {f"{p}_{n}" for p in ("start", "stop") for n in ("iv", "gen", *_CP56)}
_GROUPED |= {f"{p}_{n}" for p in ("st", "cd") for n in range(1, 17)}
_RESERVED = {"reserved", "reserved_2", "reserved_3", "reserved_4", "reserved_qdp"}
_RESERVED |= {f"{p}_reserved_{n}" for p in ("start", "stop") for n in (2, 3, 4)}


def _tuple(fields: dict[str, Any], names: tuple[str, ...], prefix: str = "") -> tuple:
    return tuple(_int_or_none(fields.get(prefix + name)) for name in names)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _build_normalizer(cls: type) -> Any:
    """Return ``f(fields) -> dict`` for one scapy information object class."""
    names = [f.name for f in cls.fields_desc]
    field_types = {f.name: f for f in cls.fields_desc}
    is_bcr = "counter_value" in names
    simple: list[tuple[str, str, Any]] = []
    for name in names:
        if name == "sec_milli" and "minutes" not in names:  # C_CD_NA_1: CP16 only
            simple.append((name, "cp16", int))
            continue
        if name == "information_object_address" or name in _RESERVED or name in _GROUPED:
            continue
        if is_bcr and name in _BCR_FIELDS:
            key, conv = _BCR_FIELDS[name]
        elif name == "scaled_value":
            is_float = isinstance(field_types[name], LEIEEEFloatField)
            key, conv = ("r32", float) if is_float else ("sva", int)
        elif name == "errors":  # SCQ (F_SC_NA_1) or AFQ (F_AF_NA_1)
            key, conv = ("afq_error" if "ack_file_or_sec" in names else "scq_error"), int
        elif name == "select_call":
            key, conv = "scq_action", int
        elif name == "ack_file_or_sec":
            key, conv = "afq_ack", int
        elif name in _SIMPLE_FIELDS:
            key, conv = _SIMPLE_FIELDS[name]
        else:  # pragma: no cover - a scapy field this adapter does not know yet
            key, conv = f"scapy_{name}", (lambda v: v)
        simple.append((name, key, conv))
    has_cp56 = "year" in names
    has_cp24 = "minutes" in names and not has_cp56
    has_range = "start_year" in names
    has_scd = "st_1" in names
    has_bsi = "bsi" in names
    has_lof = "file_length" in names

    def normalize(fields: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, key, conv in simple:
            value = fields.get(name)
            out[key] = None if value is None else conv(value)
        if has_cp56:
            out["cp56"] = _tuple(fields, _CP56)
            out["cp56_gen"] = _int_or_none(fields.get("gen"))
        if has_cp24:
            out["cp24"] = _tuple(fields, _CP24)
            out["cp24_gen"] = _int_or_none(fields.get("gen"))
        if has_range:
            for prefix in ("start", "stop"):
                cp56 = (*_CP56[:2], "iv", *_CP56[3:])
                out[f"cp56_{prefix}"] = _tuple(fields, cp56, prefix + "_")
                out[f"cp56_{prefix}_gen"] = _int_or_none(fields.get(f"{prefix}_gen"))
        wrong: dict[str, Any] = {}
        if has_bsi and fields.get("bsi") is not None:
            # scapy reads the 4 octets as one big-endian BitField: its int is the
            # wire octets in order, i.e. the byte-swapped LE value lib60870 uses.
            out["bsi"] = int(fields["bsi"]).to_bytes(4, "big").hex()
            wrong["bsi_int"] = int(fields["bsi"])
        if has_scd:
            wrong["scd_st"] = sum(int(fields.get(f"st_{n}") or 0) << (n - 1) for n in range(1, 17))
            wrong["scd_cd"] = sum(int(fields.get(f"cd_{n}") or 0) << (n - 1) for n in range(1, 17))
        if has_lof:
            wrong["lof"] = _int_or_none(fields.get("file_length"))
        if wrong:
            out["scapy_known_wrong"] = wrong
        return out

    return normalize


_NORMALIZERS: dict[type, Any] = {}


def _normalizer(cls: type) -> Any:
    normalize = _NORMALIZERS.get(cls)
    if normalize is None:
        normalize = _NORMALIZERS[cls] = _build_normalizer(cls)
    return normalize


def scapy_values(frame: bytes) -> dict[str, Any]:
    """Decode one APDU with scapy's IEC 104 layer into normalised plain values.

    Returns the header keys of :data:`HEADER_KEYS` plus:

    ``objects``
        list of dicts, one per information object *as scapy splits them* (scapy
        counts objects by length, see below).  Each has ``ioa`` (int; for SQ=1
        the first IOA + index, not wrapped at 2**24) and the element values:

        ========================  ==============================================
        SIQ (1, 2, 30)            ``spi`` 0/1, ``iv nt sb bl`` bool
        DIQ (3, 4, 31)            ``dpi`` 0..3, ``iv nt sb bl``
        QDS                       ``ov iv nt sb bl`` bool
        QDP (18, 19, 39, 40)      ``ei iv nt sb bl`` bool
        VTI (5, 6, 32)            ``value`` -64..63, ``transient`` bool
        NVA (9, 10, 21, 34, 48,   ``nva_raw``: the raw I16 (value = raw / 32768)
        61, 110)
        SVA                       ``sva`` int
        R32                       ``r32`` float
        BCR (15, 16, 37)          ``counter`` (signed), ``sequence`` 0..31,
                                  ``carry adjusted invalid`` bool
        SEP (17, 38)              ``es`` 0..3, ``ei iv nt sb bl``
        SPE                       ``gs sl1 sl2 sl3 sie srd`` bool
        OCI                       ``gc cl1 cl2 cl3`` bool
        CP16Time2a                ``cp16`` int (ms)
        CP24Time2a                ``cp24`` = (ms, minute, iv); ``cp24_gen``
        CP56Time2a                ``cp56`` = (ms, minute, iv, hour, su, day, dow,
                                  month, year), raw ints; ``cp56_gen`` = the
                                  RES1/GEN bit (octet 2 bit 6).  F_SC_NB_1 has
                                  ``cp56_start``/``cp56_stop`` (+ ``_gen``)
        SCO (45, 58)              ``state`` bool, ``qu`` int, ``select`` bool
        DCO / RCO                 ``state`` 0..3, ``qu``, ``select``
        QOS                       ``ql`` 0..127, ``select`` bool
        BSI (7, 8, 33, 51, 64)    ``bsi``: the 4 wire octets as lowercase hex
        COI (70)                  ``coi`` 0..127, ``coi_changed`` bool
        QOI / QCC / QRP / QPA     ``qoi`` / ``rqt frz`` / ``qrp`` / ``qpa``
        QPM                       ``kpa`` 0..63, ``lpc pop`` bool
        FBP (104) / TSC (107)     ``fbp`` (UI16 read LE: ``aa 55`` -> 0x55AA) / ``tsc``
        file transfer             ``nof nos frq frq_negative srq srq_not_ready
                                  scq_action scq_error lsq chs afq_ack afq_error
                                  sof_status sof_lfd sof_for sof_fa los segment``
        ========================  ==============================================

        Reserved bits are not reported.  A value scapy did not dissect (truncated
        element) is ``None``.  An object scapy could not dissect at all (unknown
        type id such as 41 or 200, or a truncated last object) is
        ``{"ioa": None or first IOA + index for SQ=1, "scapy_raw": hex}``, the hex
        including the object's IOA for SQ=0.

    ``scapy_layer``
        class name of the packet scapy returned (``"Raw"`` when it gave up).
    ``scapy_undecoded``
        hex of octets scapy left over (the whole frame when it returned ``Raw``,
        or octets after the length given by L), else ``None``.
    ``scapy_error``
        ``"ExceptionName: message"`` when scapy raised, else ``None``.

    **Every key starting with ``scapy_`` is scapy-specific and must be skipped by a
    comparison** (:func:`without_scapy_extras` removes them).  That includes
    ``objects[i]["scapy_known_wrong"]``, which holds scapy's values for the
    elements it is known to decode wrongly:

    * SCD (M_PS_NA_1, 20): the standard layout is ST1..ST16 as UI16 LE in octets
      0-1 then CD1..CD16 as UI16 LE in octets 2-3.  scapy reads the 4 octets as one
      big-endian bit field with CD16 first, so its ``cd_n`` come from octets 0-1
      and its ``st_n`` from octets 2-3, each byte-swapped.  Reported as
      ``scd_st``/``scd_cd`` (bit n-1 = scapy's ``st_n``/``cd_n``).  Wire
      ``01 02 00 82`` (ST=0x0201, CD=0x8200) gives scapy st=0x0082, cd=0x0102.
    * LOF (120, 121, 126): UI24 LE on the wire; scapy reads it big-endian
      (``ThreeBytesField``): ``01 02 03`` -> scapy 0x010203, correct 0x030201.
      Reported as ``lof``.
    * BSI: scapy shows the 4 octets as a big-endian int (``78 56 34 12`` ->
      0x78563412, lib60870 says 0x12345678).  Reported as ``bsi_int``; the
      comparable ``bsi`` key holds the wire octets, which scapy's int preserves.

    Other scapy behaviour to know (verified with scapy 2.8.0):

    * NVA: scapy keeps the raw I16 and only *displays* raw/32768, hence
      ``nva_raw``; ``00 80`` -> -32768.
    * It requires C3 bit 0 = 0 for all three formats: ``68 04 01 00 0b 00``
      (S frame, reserved bit set) and ``68 0e 00 00 01 00 64 01 ...`` come back as
      ``Raw`` -> ``format`` None.  So does a wrong start octet, a frame shorter
      than L + 2, or an S/U frame with L != 4.
    * Truncated I frames (8..11 octets) make it raise ``struct.error``
      (``68 06 04 00 02 00 01 01``) -> ``scapy_error``.
    * U frames: each function bit is a separate field and several may be set;
      ``u_function`` is then the set names joined by ``+`` in C1 bit order
      (``68 04 47 00 00 00`` -> ``"STARTDT_ACT+TESTFR_ACT"``), ``None`` if no bit is
      set.  C2..C4 and S-frame C1 bits 2-7 are not checked.
    * Objects are split by the length L, not by the VSQ N: ``number`` reports N
      as written, ``objects`` what fits (N=2 with one object -> one object; N=1 with
      two -> two); leftover octets become a ``scapy_raw`` object.
    * C_RD_NA_1 with SQ=1: scapy ignores the octets and invents N empty objects.
    * F_SG_NA_1: a LOS larger than the remaining octets is not reported, the
      segment is silently shortened.
    * PacketListField stops at ``conf.max_list_count`` (default 100) and raises;
      this module raises that limit to 256 at import time.
    * It does not know type 41 (S_IT_TC_1) or private types: ``scapy_raw`` objects.
    """
    frame = bytes(frame)
    out = _empty_header()
    out["objects"] = []
    out["scapy_layer"] = None
    out["scapy_undecoded"] = None
    out["scapy_error"] = None
    try:
        pkt = _iec104_decode(frame)
        objects = _decode_objects(pkt) if isinstance(pkt, _I_SEQ | _I_SINGLE) else []
    except Exception as exc:  # scapy raises struct.error & co. on truncated input
        out["scapy_error"] = f"{type(exc).__name__}: {exc}"
        out["scapy_undecoded"] = frame.hex()
        return out
    cls = type(pkt)
    out["scapy_layer"] = cls.__name__
    fields = pkt.fields
    if cls is _S_MESSAGE:
        out["format"] = "S"
        out["nr"] = int(fields["rx_seq_num"])
    elif cls is _U_MESSAGE:
        out["format"] = "U"
        functions = [name for bit, name in _U_BITS if fields.get(bit)]
        out["u_function"] = "+".join(functions) if functions else None
    elif cls is _I_SEQ or cls is _I_SINGLE:
        out["format"] = "I"
        out["ns"] = int(fields["tx_seq_num"])
        out["nr"] = int(fields["rx_seq_num"])
        out["type_id"] = int(fields["type_id"])
        out["cot"] = int(fields["cot"])
        out["negative"] = bool(fields["ack"])
        out["test"] = bool(fields["test"])
        out["originator_address"] = int(fields["origin_address"])
        out["common_address"] = int(fields["common_asdu_address"])
        out["number"] = int(fields["num_io"])
        out["sq"] = bool(fields["sq"])
        if cls is _I_SEQ:
            out["first_ioa"] = int(fields["information_object_address"])
        elif objects:
            out["first_ioa"] = objects[0]["ioa"]
        out["objects"] = objects
    else:  # Raw: scapy did not recognise the frame
        out["scapy_undecoded"] = frame.hex()
        return out
    trailing = pkt.payload
    if not isinstance(trailing, NoPayload):
        out["scapy_undecoded"] = bytes(trailing).hex()
    return out


def _decode_objects(pkt: Any) -> list[dict[str, Any]]:
    io_list = pkt.fields.get("io") or []
    sequence = isinstance(pkt, _I_SEQ)
    base = int(pkt.fields["information_object_address"]) if sequence else 0
    objects = []
    for index, io in enumerate(io_list):
        if isinstance(io, _RAW):
            obj = {"ioa": base + index if sequence else None, "scapy_raw": bytes(io).hex()}
        else:
            fields = io.fields
            ioa = base + index if sequence else int(fields["information_object_address"])
            obj = {"ioa": ioa}
            obj.update(_normalizer(type(io))(fields))
        objects.append(obj)
    return objects


def without_scapy_extras(value: Any) -> Any:
    """Return ``value`` with every dict key starting with ``scapy_`` removed (deeply)."""
    if isinstance(value, dict):
        return {k: without_scapy_extras(v) for k, v in value.items() if not k.startswith("scapy_")}
    if isinstance(value, list):
        return [without_scapy_extras(v) for v in value]
    return value
