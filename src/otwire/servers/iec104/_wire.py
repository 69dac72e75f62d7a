"""Points to ASDUs: packing into the 249-octet limit, mirrored replies, end of initialization."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from otwire.codecs.iec104 import ASDU, COI, Cot, InformationObject, TypeId
from otwire.codecs.iec104.asdu import HEADER_LENGTH, MAX_ASDU_LENGTH, information_length
from otwire.servers.iec104._points import Point

__all__ = ["end_of_init", "mirror", "pack_points", "pack_sequence"]

#: The VSQ number field holds at most 127 objects.
_MAX_NUMBER = 127


def _per_asdu(type_id: int, sq: bool) -> int:
    """Most objects of ``type_id`` that fit one ASDU."""
    if sq:
        element = (information_length(type_id, True, 2) or 0) - (information_length(type_id, True, 1) or 0)
        return min(_MAX_NUMBER, (MAX_ASDU_LENGTH - HEADER_LENGTH - 3) // max(element, 1))
    one = information_length(type_id, False, 1) or 1
    return min(_MAX_NUMBER, (MAX_ASDU_LENGTH - HEADER_LENGTH) // one)


def pack_points(points: Iterable[Point], cot: Cot | int, common_address: int) -> list[ASDU]:
    """Group points into ASDUs of one type each (SQ=0), none longer than 249 octets.

    Args:
        points: Monitor points of one station, in the order to report them.
        cot: Cause of transmission of every ASDU.
        common_address: The station's common address.

    Returns:
        The ASDUs, types in order of first appearance, objects in the given order.

    Raises:
        EncodeError: A point's value cannot be encoded (not expected).
    """
    by_type: dict[TypeId, list[InformationObject]] = {}
    for point in points:
        by_type.setdefault(point.type, []).append(point.information_object())
    asdus = []
    for type_id, objects in by_type.items():
        step = _per_asdu(type_id, False)
        for start in range(0, len(objects), step):
            chunk = tuple(objects[start : start + step])
            asdus.append(ASDU(type_id=type_id, cot=cot, common_address=common_address, objects=chunk))
    return asdus


def pack_sequence(points: list[Point], cot: Cot | int, common_address: int) -> list[ASDU]:
    """Pack points of one type as SQ=1 ASDUs when their IOAs are consecutive, else as SQ=0.

    Args:
        points: Monitor points of one station and type, in the order to report them.
        cot: Cause of transmission.
        common_address: The station's common address.

    Returns:
        The ASDUs.

    Raises:
        EncodeError: A point's value cannot be encoded (not expected).
    """
    if not points:
        return []
    first = points[0].io_address
    if any(p.io_address != (first + i) & 0xFFFFFF for i, p in enumerate(points)):
        return pack_points(points, cot, common_address)
    type_id = points[0].type
    objects = [p.information_object() for p in points]
    step = _per_asdu(type_id, True)
    return [
        ASDU(type_id=type_id, cot=cot, common_address=common_address, objects=tuple(objects[i : i + step]), sq=True)
        for i in range(0, len(objects), step)
    ]


def mirror(request: ASDU, cot: Cot | int, *, negative: bool = False, common_address: int | None = None) -> ASDU:
    """Return the reply that mirrors ``request`` with another cause (and P/N bit).

    The T (test) bit and originator address are kept, as the standard requires.

    Args:
        request: The received ASDU.
        cot: The reply's cause (ACTIVATION_CON, ACTIVATION_TERMINATION, UNKNOWN_*, ...).
        negative: Set the P/N bit.
        common_address: Reply with this common address instead of the request's.

    Returns:
        The reply ASDU.
    """
    ca = request.common_address if common_address is None else common_address
    return replace(request, cot=cot, negative=negative, common_address=ca)


def end_of_init(common_address: int, cause: int = 0) -> ASDU:
    """Return M_EI_NA_1 (end of initialization, COT INITIALIZED, IOA 0).

    Args:
        common_address: The station's common address.
        cause: Cause of initialization (COI), 0..127.

    Returns:
        The ASDU.

    Raises:
        EncodeError: ``cause`` out of range.
    """
    obj = InformationObject(0, (COI(cause=cause),))
    return ASDU(type_id=TypeId.M_EI_NA_1, cot=Cot.INITIALIZED, common_address=common_address, objects=(obj,))
