"""XEP-0323 elements as frozen dataclasses (``specs/xep0323/notes.md`` §2, XEP-0323 v0.6 §3 and §5).

Requests (client to device, in ``iq type='get'``): :class:`Req` with :class:`Node` and
:class:`FieldRef` children, :class:`Cancel`. Answers in IQ results: :class:`Accepted`,
:class:`Cancelled`; in an IQ error, the v0.2 :class:`Rejected`. Messages from the device:
:class:`Started`, :class:`Fields` (nodes, timestamps, field values), :class:`Failure`
(:class:`Error` items), :class:`Done`.

Field values all share the attributes of the XSD's abstract ``field``: ``name``, the
field-type flags (:class:`FieldType`), the quality-of-service flags (:class:`QoS`),
``module``, ``string_ids`` and ``writable`` (``None`` when absent: nothing can be
inferred). Each keeps ``value`` (typed) and ``lexical`` (the exact wire text). A value
built in Python may leave ``lexical`` empty: it is then filled with the canonical form.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from otwire.codecs.xep0323 import values as xs
from otwire.errors import EncodeError

__all__ = [
    "NS",
    "Accepted",
    "Boolean",
    "Cancel",
    "Cancelled",
    "Date",
    "DateTime",
    "Done",
    "Duration",
    "Enum",
    "Error",
    "Failure",
    "Field",
    "FieldRef",
    "FieldType",
    "Fields",
    "Int",
    "Long",
    "Message",
    "Node",
    "Numeric",
    "QoS",
    "Rejected",
    "Req",
    "Started",
    "String",
    "Timestamp",
]

#: The XEP-0323 namespace (v0.2 onwards).
NS = "urn:xmpp:iot:sensordata"

#: XEP-0323 §5.6 pattern of ``stringIds``, with the module optional: the spec's own example
#: ``4||A1,5||3`` has an empty module, which its pattern refuses (notes §4, erratum E4).
STRING_IDS = re.compile(
    r"\d+(?:[|](?:\w+(?:[.]\w+)*)?(?:[|][^,]*)?)?(?:,\d+(?:[|](?:\w+(?:[.]\w+)*)?(?:[|][^,]*)?)?)*\Z"
)


class FieldType(enum.Flag):
    """Field types (XEP-0323 §3.1): a union in a request, an intersection on a field.

    Members are the XML attribute names. ``identification`` on the wire (v0.6 example
    "Read-out all") is read as ``identity``.
    """

    momentary = enum.auto()
    peak = enum.auto()
    status = enum.auto()
    computed = enum.auto()
    identity = enum.auto()
    historicalSecond = enum.auto()
    historicalMinute = enum.auto()
    historicalHour = enum.auto()
    historicalDay = enum.auto()
    historicalWeek = enum.auto()
    historicalMonth = enum.auto()
    historicalQuarter = enum.auto()
    historicalYear = enum.auto()
    historicalOther = enum.auto()


#: Every historical period (the request attribute ``historical``).
HISTORICAL = (
    FieldType.historicalSecond
    | FieldType.historicalMinute
    | FieldType.historicalHour
    | FieldType.historicalDay
    | FieldType.historicalWeek
    | FieldType.historicalMonth
    | FieldType.historicalQuarter
    | FieldType.historicalYear
    | FieldType.historicalOther
)
#: Every field type (the request attribute ``all``).
ALL_TYPES = (
    FieldType.momentary | FieldType.peak | FieldType.status | FieldType.computed | FieldType.identity | HISTORICAL
)


class QoS(enum.Flag):
    """Quality-of-service flags of a field (XEP-0323 §3.2, "Field Status" up to v0.2).

    In the spec's order of importance. No flag set means ``automaticReadout``.
    ``inProgress`` exists since v0.3 and is left out of v0.2 output.
    """

    missing = enum.auto()
    inProgress = enum.auto()
    automaticEstimate = enum.auto()
    manualEstimate = enum.auto()
    manualReadout = enum.auto()
    automaticReadout = enum.auto()
    timeOffset = enum.auto()
    warning = enum.auto()
    error = enum.auto()
    signed = enum.auto()
    invoiced = enum.auto()
    endOfSeries = enum.auto()
    powerFailure = enum.auto()
    invoiceConfirmed = enum.auto()


#: No field type (the default of a field's ``types`` and a request's ``types``).
NO_TYPES = FieldType(0)
#: No QoS flag (means ``automaticReadout``).
NO_QOS = QoS(0)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise EncodeError(message)


def _check_seqnr(seqnr: int) -> None:
    _check(isinstance(seqnr, int) and xs.INT_RANGE[0] <= seqnr <= xs.INT_RANGE[1], f"seqnr {seqnr!r} is not an xs:int")


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """Base of the field value elements (children of ``timestamp``; XEP-0323 §5.5).

    Attributes:
        name: Field name (unlocalised).
        value: Typed value (the subclass says which type).
        lexical: The exact wire text of ``value`` (canonical form when built with ``""``).
        types: Field-type flags (an intersection: ``status | historicalDay`` is a daily status).
        qos: Quality-of-service flags.
        module: Language module of ``string_ids``.
        string_ids: Localisation steps ``ID[|Module][|Seed],...`` (XEP-0323 §5.6).
        writable: ``True``/``False`` as sent (v0.3+), ``None`` when absent.

    Raises:
        EncodeError: a value of the wrong type or range, or a malformed ``string_ids``.
    """

    TAG: ClassVar[str] = ""
    name: str
    value: object
    lexical: str = ""
    types: FieldType = NO_TYPES
    qos: QoS = NO_QOS
    module: str | None = None
    string_ids: str | None = None
    writable: bool | None = None

    def __post_init__(self) -> None:
        _check(isinstance(self.name, str), "field name must be a str")
        _check(self.string_ids is None or bool(STRING_IDS.match(self.string_ids)), "malformed stringIds")
        self._check_value()
        if not self.lexical:
            object.__setattr__(self, "lexical", self._format())

    def _check_value(self) -> None:
        _check(isinstance(self.value, str), f"{self.TAG} value must be a str")

    def _format(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Numeric(Field):
    """``numeric``: a decimal number (xs:double kept as :class:`Decimal`) with a unit (may be ``""``)."""

    TAG: ClassVar[str] = "numeric"
    value: Decimal
    unit: str = ""

    def _check_value(self) -> None:
        _check(isinstance(self.value, Decimal), "numeric value must be a Decimal")

    def _format(self) -> str:
        return xs.format_decimal(self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class String(Field):
    """``string``: free text."""

    TAG: ClassVar[str] = "string"
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Enum(Field):
    """``enum``: a symbol of the enumeration type ``data_type`` (XML ``dataType``)."""

    TAG: ClassVar[str] = "enum"
    value: str
    data_type: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Boolean(Field):
    """``boolean``: an ``xs:boolean``."""

    TAG: ClassVar[str] = "boolean"
    value: bool

    def _check_value(self) -> None:
        _check(isinstance(self.value, bool), "boolean value must be a bool")

    def _format(self) -> str:
        return xs.format_bool(self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class DateTime(Field):
    """``dateTime``: naive when the wire has no zone (the zone is "undefined")."""

    TAG: ClassVar[str] = "dateTime"
    value: dt.datetime

    def _check_value(self) -> None:
        _check(isinstance(self.value, dt.datetime), "dateTime value must be a datetime")

    def _format(self) -> str:
        return xs.format_datetime(self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Date(Field):
    """``date`` (v0.3+): a zone on the wire is kept in ``lexical`` (see :attr:`zone`)."""

    TAG: ClassVar[str] = "date"
    value: dt.date

    def _check_value(self) -> None:
        _check(isinstance(self.value, dt.date) and not isinstance(self.value, dt.datetime), "date value must be a date")

    def _format(self) -> str:
        return xs.format_date(self.value)

    @property
    def zone(self) -> dt.timezone | None:
        """The zone written on the wire, or ``None`` (undefined)."""
        return xs.date_zone(self.lexical)


@dataclass(frozen=True, slots=True, kw_only=True)
class Time(Field):
    """``time`` (v0.3+): a time of day, naive when the wire has no zone."""

    TAG: ClassVar[str] = "time"
    value: dt.time

    def _check_value(self) -> None:
        _check(isinstance(self.value, dt.time), "time value must be a time")

    def _format(self) -> str:
        return xs.format_time(self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Duration(Field):
    """``duration`` (v0.3+), ``timeSpan`` in v0.2: an :class:`~otwire.codecs.xep0323.values.XsDuration`."""

    TAG: ClassVar[str] = "duration"
    value: xs.XsDuration

    def _check_value(self) -> None:
        _check(isinstance(self.value, xs.XsDuration), "duration value must be an XsDuration")


@dataclass(frozen=True, slots=True, kw_only=True)
class Int(Field):
    """``int`` (v0.3+): a 32-bit integer, no unit."""

    TAG: ClassVar[str] = "int"
    value: int

    def _check_value(self) -> None:
        lo, hi = xs.INT_RANGE
        _check(type(self.value) is int and lo <= self.value <= hi, "int value must be an int in the xs:int range")


@dataclass(frozen=True, slots=True, kw_only=True)
class Long(Field):
    """``long`` (v0.3+): a 64-bit integer, no unit."""

    TAG: ClassVar[str] = "long"
    value: int

    def _check_value(self) -> None:
        lo, hi = xs.LONG_RANGE
        _check(type(self.value) is int and lo <= self.value <= hi, "long value must be an int in the xs:long range")


def _check_strings(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        _check(value is None or isinstance(value, str), f"{type(obj).__name__}.{name} must be a str")


@dataclass(frozen=True, slots=True, kw_only=True)
class Timestamp:
    """``timestamp``: the fields valid at ``value`` (naive: zone undefined).

    Attributes:
        value: The time (xs:dateTime).
        lexical: The exact wire text of ``value`` (``2024-01-01T00:00:00.500+01:00`` stays as
            written); built with ``""``, it is the canonical form. Written as given on output.
        fields: The field values.

    Raises:
        EncodeError: ``value`` is not a datetime, ``lexical`` not a str, or a field is not a :class:`Field`.
    """

    value: dt.datetime
    lexical: str = ""
    fields: tuple[Field, ...] = ()

    def __post_init__(self) -> None:
        _check(isinstance(self.value, dt.datetime), "timestamp value must be a datetime")
        _check(isinstance(self.lexical, str), "timestamp lexical must be a str")
        _check(all(isinstance(f, Field) for f in self.fields), "timestamp fields must be Field values")
        if not self.lexical:
            object.__setattr__(self, "lexical", xs.format_datetime(self.value))


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """``node``: a node reference in ``req`` (no timestamps) or a node's data in ``fields``."""

    node_id: str
    source_id: str | None = None
    cache_type: str | None = None
    timestamps: tuple[Timestamp, ...] = ()

    def __post_init__(self) -> None:
        _check(isinstance(self.node_id, str), "node_id must be a str")
        _check_strings(self, "source_id", "cache_type")


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldRef:
    """``req/field``: the name of a field to read."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Req:
    """``req`` (``iq type='get'``): a read-out request (XEP-0323 §3.3).

    ``types`` is the union of requested field types; ``all_types`` and ``historical`` are
    the request-only attributes ``all`` and ``historical``. ``from_``/``to`` are the hints of
    a historical range, ``when`` schedules the read-out; tokens come from XEP-0324.

    Raises:
        EncodeError: ``seqnr`` outside ``xs:int``.
    """

    seqnr: int
    types: FieldType = NO_TYPES
    all_types: bool = False
    historical: bool = False
    from_: dt.datetime | None = None
    to: dt.datetime | None = None
    when: dt.datetime | None = None
    service_token: str | None = None
    device_token: str | None = None
    user_token: str | None = None
    nodes: tuple[Node, ...] = ()
    fields: tuple[FieldRef, ...] = ()

    def __post_init__(self) -> None:
        _check_seqnr(self.seqnr)
        for name in ("from_", "to", "when"):
            value = getattr(self, name)
            _check(value is None or isinstance(value, dt.datetime), f"req {name} must be a datetime")
        _check_strings(self, "service_token", "device_token", "user_token")

    @property
    def requested_types(self) -> FieldType:
        """The requested field types with ``all``/``historical`` expanded (empty: the device chooses)."""
        types = self.types | (ALL_TYPES if self.all_types else FieldType(0))
        return types | (HISTORICAL if self.historical else FieldType(0))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Seqnr:
    seqnr: int

    def __post_init__(self) -> None:
        _check_seqnr(self.seqnr)


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted(_Seqnr):
    """``accepted`` (``iq type='result'``); ``queued`` means a ``started`` message will follow."""

    queued: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected(_Seqnr):
    """``rejected`` (v0.2 only, in ``iq type='error'``) with its ``error`` texts."""

    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Started(_Seqnr):
    """``started`` (message): a queued read-out began."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Done(_Seqnr):
    """``done`` (message): the read-out is complete (instead of ``done='true'``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel(_Seqnr):
    """``cancel`` (``iq type='get'``): cancel a read-out (v0.4+ XSD, used in v0.2 examples)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancelled(_Seqnr):
    """``cancelled`` (``iq type='result'``): the read-out was cancelled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fields(_Seqnr):
    """``fields`` (message): part of a read-out; ``done`` marks the last part."""

    nodes: tuple[Node, ...] = ()
    done: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """``failure/error``: a node that failed; ``timestamp`` is free text (xs:string in the XSD)."""

    node_id: str
    timestamp: str
    message: str = ""
    source_id: str | None = None
    cache_type: str | None = None

    def __post_init__(self) -> None:
        _check(isinstance(self.node_id, str), "node_id must be a str")
        _check_strings(self, "timestamp", "message", "source_id", "cache_type")


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure(_Seqnr):
    """``failure`` (message): errors; the read-out continues unless ``done``."""

    errors: tuple[Error, ...] = ()
    done: bool = False


#: Every top-level element the codec decodes and encodes.
Message = Req | Accepted | Rejected | Started | Done | Cancel | Cancelled | Fields | Failure

#: Field value classes by their v0.6 element name.
FIELD_CLASSES: dict[str, type[Field]] = {
    cls.TAG: cls for cls in (Numeric, String, Enum, Boolean, DateTime, Date, Time, Duration, Int, Long)
}
