"""Activation tracking: command/interrogation request -> ACT_CON (or refusal) -> ACT_TERM.

IEC 60870-5-101 7.2.3 and -104 clause 7: an activation (COT 6) or deactivation (COT 8)
is answered by a confirmation with the same type identification and IOA (COT 7/9, P/N
bit for negative), or by COT 44-47 when the station does not know the type, cause,
common address or IOA. Interrogations (C_IC_NA_1, C_CI_NA_1) end with ACT_TERM (COT 10).
A read (C_RD_NA_1, COT 5) is answered by the point's data with COT 5.
"""

from __future__ import annotations

from collections import deque

from otwire.codecs.iec104 import ASDU, GLOBAL_ADDRESS, Cot, TypeId
from otwire.errors import LocalProtocolError
from otwire.protocols import Event
from otwire.protocols.iec104.events import (
    ActivationConfirmed,
    ActivationRefused,
    ActivationTerminated,
    ASDUReceived,
)

__all__ = ["ActivationTracker"]

_REQUESTS = frozenset({Cot.ACTIVATION, Cot.DEACTIVATION})
_CONFIRMS = frozenset({Cot.ACTIVATION_CON, Cot.DEACTIVATION_CON})
_UNKNOWN = frozenset({Cot.UNKNOWN_TYPE_ID, Cot.UNKNOWN_COT, Cot.UNKNOWN_CA, Cot.UNKNOWN_IOA})
#: Activations that stay open after ACT_CON until ACT_TERM arrives.
_TERMINATED = frozenset({TypeId.C_IC_NA_1, TypeId.C_CI_NA_1})
_READ_KEY = int(TypeId.C_RD_NA_1)


def _ioa(asdu: ASDU) -> int:
    return asdu.objects[0].ioa if asdu.objects else 0


class ActivationTracker:
    """Pending activations keyed by (type_id, ioa), oldest first, bounded by ``limit``."""

    __slots__ = ("_limit", "_pending", "_size")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._pending: dict[tuple[int, int], deque[ASDU]] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @staticmethod
    def tracks(asdu: ASDU) -> bool:
        """True when ``asdu`` is a request that expects a confirmation."""
        return asdu.cot in _REQUESTS or (asdu.type_id == _READ_KEY and asdu.cot == Cot.REQUEST)

    def register(self, asdu: ASDU) -> None:
        """Start tracking ``asdu`` (call only when :meth:`tracks` is true).

        Raises:
            LocalProtocolError: ``limit`` activations are already pending.
        """
        if self._size >= self._limit:
            raise LocalProtocolError(f"{self._size} activations pending, limit reached")
        self._pending.setdefault((int(asdu.type_id), _ioa(asdu)), deque()).append(asdu)
        self._size += 1

    def cancel(self, request: ASDU) -> bool:
        """Stop tracking ``request`` (e.g. after a client-side timeout); False if unknown."""
        key = (int(request.type_id), _ioa(request))
        queue = self._pending.get(key)
        if queue is None:
            return False
        for i, item in enumerate(queue):
            if item is request:
                del queue[i]
                self._drop_if_empty(key, queue)
                return True
        return False

    def clear(self) -> list[ASDU]:
        """Forget every pending activation and return them (oldest first per key)."""
        pending = [asdu for queue in self._pending.values() for asdu in queue]
        self._pending.clear()
        self._size = 0
        return pending

    def match(self, asdu: ASDU) -> Event:
        """Turn a received ASDU into an activation event, or ``ASDUReceived``."""
        cot = asdu.cot
        if cot == Cot.REQUEST and asdu.type_id != _READ_KEY:
            request = self._take((_READ_KEY, _ioa(asdu)), asdu, remove=True)
            return ASDUReceived(asdu=asdu) if request is None else ActivationConfirmed(request=request, asdu=asdu)
        key = (int(asdu.type_id), _ioa(asdu))
        if cot in _CONFIRMS:
            if asdu.negative:
                request = self._take(key, asdu, remove=True)
                return ASDUReceived(asdu=asdu) if request is None else ActivationRefused(request=request, asdu=asdu)
            if key[0] == _READ_KEY:
                # lib60870 confirms a read with C_RD_NA_1 COT 7 before the data (notes 3.5.2).
                return ASDUReceived(asdu=asdu)
            request = self._take(key, asdu, remove=asdu.type_id not in _TERMINATED)
            return ASDUReceived(asdu=asdu) if request is None else ActivationConfirmed(request=request, asdu=asdu)
        if cot == Cot.ACTIVATION_TERMINATION:
            request = self._take(key, asdu, remove=True)
            return ASDUReceived(asdu=asdu) if request is None else ActivationTerminated(request=request, asdu=asdu)
        if cot in _UNKNOWN:
            request = self._take(key, asdu, remove=True)
            return ASDUReceived(asdu=asdu) if request is None else ActivationRefused(request=request, asdu=asdu)
        return ASDUReceived(asdu=asdu)

    def _take(self, key: tuple[int, int], reply: ASDU, *, remove: bool) -> ASDU | None:
        queue = self._pending.get(key)
        if not queue:
            return None
        for i, request in enumerate(queue):
            ca = request.common_address
            if ca == reply.common_address or ca == GLOBAL_ADDRESS:
                if remove:
                    del queue[i]
                    self._drop_if_empty(key, queue)
                return request
        return None

    def _drop_if_empty(self, key: tuple[int, int], queue: deque[ASDU]) -> None:
        self._size -= 1
        if not queue:
            del self._pending[key]
