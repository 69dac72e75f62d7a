"""Fault injection by tag name: what the gateway simulator does wrong on purpose.

The rules look at the attribute part of a reference (``Object.Attribute``) or at the whole
reference, case-sensitively, by prefix (``specs/mxgateway/notes.md``, "Simulator",
"Fault injection"):

==========================  =================================================================
tag starts with             effect
==========================  =================================================================
``Fault.WriteDenied``       every write (single or bulk entry) fails with an MXAccess failure:
                            ``protocol_status`` MXACCESS_FAILURE, ``hresult`` 0x80040200,
                            one status SECURITY_ERROR, detail 321; no ``OnWriteComplete``
``Fault.Slow``              every command naming the item is answered after ``slow_delay``
                            seconds (deadline tests); ``ReadBulk`` times the tag out when its
                            ``timeout_ms`` is shorter
``Fault.Missing``           ``AddItem`` (and bulk entries) fail: MX_E_InvalidReference
``Fault.KillStream``        after ``Advise``, the session's event streams deliver the initial
                            ``OnDataChange`` and then end with UNAVAILABLE
==========================  =================================================================
"""

from __future__ import annotations

from otwire.codecs.mxgateway import pb

__all__ = [
    "HRESULT_INVALIDARG",
    "HRESULT_OUTOFMEMORY",
    "HRESULT_SECURITY",
    "SECURITY_DETAIL",
    "denies_write",
    "failure_status",
    "is_missing",
    "is_slow",
    "kills_stream",
]

#: ``0x80040200`` as a signed int32: the MXAccess security failure of the upstream fixture.
HRESULT_SECURITY = -2147220992
#: ``E_INVALIDARG`` (``0x80070057``): bad handle or argument.
HRESULT_INVALIDARG = -2147024809
#: ``E_OUTOFMEMORY`` (``0x8007000E``): a simulator limit was reached.
HRESULT_OUTOFMEMORY = -2147024882
#: ``MxStatusDetail`` of a denied write in the upstream fixture.
SECURITY_DETAIL = 321
#: ``MX_E_InvalidReference``.
INVALID_REFERENCE_DETAIL = 6


def denies_write(tag: str) -> bool:
    """True when writes to ``tag`` fail (``Fault.WriteDenied*``)."""
    return tag.startswith("Fault.WriteDenied")


def is_slow(tag: str) -> bool:
    """True when commands naming ``tag`` are answered late (``Fault.Slow*``)."""
    return tag.startswith("Fault.Slow")


def is_missing(tag: str) -> bool:
    """True when ``AddItem`` of ``tag`` fails (``Fault.Missing*``)."""
    return tag.startswith("Fault.Missing")


def kills_stream(tag: str) -> bool:
    """True when advising ``tag`` ends the session's event streams (``Fault.KillStream*``)."""
    return tag.startswith("Fault.KillStream")


def failure_status(category: pb.MxStatusCategory, detail: int, text: str) -> pb.MxStatusProxy:
    """One failed ``MXSTATUS_PROXY`` (``success=0``) detected by the responding LMX."""
    raw = {pb.MxStatusCategory.SECURITY_ERROR: 6, pb.MxStatusCategory.CONFIGURATION_ERROR: 4}.get(category, 8)
    return pb.MxStatusProxy(
        success=0,
        category=category,
        detected_by=pb.MxStatusSource.RESPONDING_LMX,
        detail=detail,
        raw_category=raw,
        raw_detected_by=1,
        diagnostic_text=text,
    )
