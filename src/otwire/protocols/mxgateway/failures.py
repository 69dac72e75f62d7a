"""MXAccess failure detection on replies, statuses and events (``specs/mxgateway/notes.md`` §client "Failures").

Four layers arrive on a command (research §2.4); this module judges the last two from the
message alone:

* the protocol status: ``MxCommandReply.protocol_status.code`` other than ``OK`` (a missing
  status or ``UNSPECIFIED`` counts as OK: proto3 default) is a failed command;
* an MXAccess failure: ``protocol_status.code == MXACCESS_FAILURE``, or ``hresult < 0``
  (a COM failure HRESULT), or a ``MxStatusProxy`` that failed.

A status failed when ``success == 0`` **and** it has a real error category
(:data:`ERROR_CATEGORIES`, or a category number this client does not know). A proto3-default
status (``success == 0``, category ``UNSPECIFIED``) is not a failure, nor are ``OK``,
``PENDING`` (not final yet, e.g. waiting for initial data) and ``WARNING``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from otwire.codecs.mxgateway import pb

__all__ = [
    "ERROR_CATEGORIES",
    "NOT_FAILED_CATEGORIES",
    "Verdict",
    "event_failed",
    "failed_statuses",
    "judge",
    "judge_reply",
    "status_failed",
]

_C = pb.MxStatusCategory
#: Categories that never make a status a failure.
NOT_FAILED_CATEGORIES = frozenset({_C.UNSPECIFIED, _C.OK, _C.PENDING, _C.WARNING})
#: The named error categories (an unknown category number with ``success == 0`` fails too).
ERROR_CATEGORIES = frozenset(set(_C) - NOT_FAILED_CATEGORIES)


def status_failed(status: pb.MxStatusProxy) -> bool:
    """True when one ``MxStatusProxy`` reports a failure (``success == 0`` with a real category)."""
    return status.success == 0 and status.category not in NOT_FAILED_CATEGORIES


def failed_statuses(statuses: Iterable[pb.MxStatusProxy]) -> list[pb.MxStatusProxy]:
    """The statuses that failed, in order."""
    return [status for status in statuses if status_failed(status)]


class Outcome(enum.Enum):
    """What a command reply says about its command."""

    OK = "ok"
    COMMAND_FAILED = "command failed"
    """The gateway refused or could not run the command (protocol status not OK)."""
    MXACCESS_FAILED = "MXAccess failed"
    """MXAccess ran the command and it failed (MXACCESS_FAILURE, HRESULT < 0, failed status)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement of one ``MxCommandReply``.

    Attributes:
        outcome: OK, a failed command or an MXAccess failure.
        reason: One line for an error message (empty when OK).
    """

    outcome: Outcome
    reason: str = ""

    @property
    def failed(self) -> bool:
        """True unless the outcome is OK."""
        return self.outcome is not Outcome.OK


def _name(enum_type: type[enum.IntEnum], value: int) -> str:
    """The member name of ``value``, or its number when this client does not know it."""
    return enum_type(value).name or str(int(value))


def judge_reply(reply: pb.MxCommandReply, kind: pb.MxCommandKind | None = None) -> Verdict:
    """Judge a command reply: OK, a failed command, or an MXAccess failure (module docstring).

    Args:
        reply: The reply as received.
        kind: The command's kind, for the reason text when the reply leaves ``kind`` unset.
    """
    what = _name(pb.MxCommandKind, reply.kind or kind or 0)
    return judge(what, reply.protocol_status, reply.hresult, reply.statuses)


def judge(what: str, status: pb.ProtocolStatus | None, hresult: int, statuses: Iterable[pb.MxStatusProxy]) -> Verdict:
    """Judge any reply made of a protocol status, an HRESULT and statuses (commands, ``AcknowledgeAlarm``).

    Args:
        what: The operation's name, first word of the reason.
        status: The reply's ``protocol_status`` (``None``: unset).
        hresult: The reply's ``hresult``.
        statuses: The reply's ``MxStatusProxy`` entries.
    """
    code = status.code if status is not None else pb.ProtocolStatusCode.UNSPECIFIED
    failed = failed_statuses(statuses)
    code_name = _name(pb.ProtocolStatusCode, code)
    if code == pb.ProtocolStatusCode.MXACCESS_FAILURE or hresult < 0 or failed:
        parts = [f"{what} failed: protocol={code_name}", f"hresult=0x{hresult & 0xFFFFFFFF:08X}"]
        parts += [f"status={_name(pb.MxStatusCategory, s.category)}/{s.detail}" for s in failed]
        return Verdict(Outcome.MXACCESS_FAILED, " ".join(parts))
    if code not in (pb.ProtocolStatusCode.OK, pb.ProtocolStatusCode.UNSPECIFIED):
        message = status.message if status is not None else ""
        detail = f": {message}" if message else ""
        return Verdict(Outcome.COMMAND_FAILED, f"{what} failed: protocol={code_name}{detail}")
    return Verdict(Outcome.OK)


def event_failed(event: pb.MxEvent) -> bool:
    """True when an event reports a failure: ``hresult`` present and < 0, or a failed status."""
    return (event.hresult is not None and event.hresult < 0) or bool(failed_statuses(event.statuses))
