"""IEC 104 factories for the engine tests: a controlling and a controlled engine back to back, ASDUs.

The pair itself is the generic :class:`helpers.Pair` (fake clock, ``pump``, ``advance``).
"""

from __future__ import annotations

from helpers import Pair, drain
from otwire.codecs.iec104 import ASDU, QOI, SIQ, Cot, InformationObject, TypeId
from otwire.protocols.iec104 import IEC104Config, IEC104Connection, Role


def engine_pair(config: IEC104Config | None = None, now: float = 0.0, **kwargs: object) -> Pair:
    """A controlling (``client``) and a controlled (``server``) engine; ``kwargs`` go to both."""
    return Pair(
        IEC104Connection(Role.CONTROLLING, config, now=now, **kwargs),  # type: ignore[arg-type]
        IEC104Connection(Role.CONTROLLED, config, now=now, **kwargs),  # type: ignore[arg-type]
        now,
    )


def started_pair(config: IEC104Config | None = None, now: float = 0.0, **kwargs: object) -> Pair:
    """:func:`engine_pair` after STARTDT, with the resulting events dropped."""
    pair = engine_pair(config, now, **kwargs)
    pair.client.start_data_transfer(pair.now)
    pair.pump()
    drain(pair.client)
    drain(pair.server)
    return pair


def single(ioa: int, on: bool = True, cot: Cot = Cot.SPONTANEOUS, ca: int = 1) -> ASDU:
    """A one-object M_SP_NA_1 ASDU."""
    return ASDU(type_id=TypeId.M_SP_NA_1, cot=cot, common_address=ca, objects=(InformationObject(ioa, (SIQ(spi=on),)),))


def interrogation(cot: Cot = Cot.ACTIVATION, ca: int = 1, negative: bool = False) -> ASDU:
    """A station interrogation (C_IC_NA_1, QOI 20) with the given cause."""
    return ASDU(
        type_id=TypeId.C_IC_NA_1,
        cot=cot,
        common_address=ca,
        negative=negative,
        objects=(InformationObject(0, (QOI(value=20),)),),
    )
