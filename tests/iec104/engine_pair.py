"""Two otwire IEC 104 engines back to back, with a fake clock (h11's ConnectionPair idea)."""

from __future__ import annotations

from otwire.codecs.iec104 import ASDU, QOI, SIQ, Cot, InformationObject, TypeId
from otwire.protocols import Event
from otwire.protocols.iec104 import IEC104Config, IEC104Connection, Role


def drain(conn: IEC104Connection) -> list[Event]:
    """Every queued event of ``conn``."""
    events = []
    while (event := conn.next_event()) is not None:
        events.append(event)
    return events


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


class Pair:
    """A controlling and a controlled engine whose bytes are delivered by ``pump``."""

    def __init__(self, config: IEC104Config | None = None, now: float = 0.0, **kwargs: object) -> None:
        self.now = now
        self.client = IEC104Connection(Role.CONTROLLING, config, now=now, **kwargs)  # type: ignore[arg-type]
        self.server = IEC104Connection(Role.CONTROLLED, config, now=now, **kwargs)  # type: ignore[arg-type]

    def pump(self) -> None:
        """Deliver queued bytes both ways until both engines are quiet."""
        moved = True
        while moved:
            moved = False
            for a, b in ((self.client, self.server), (self.server, self.client)):
                data = a.data_to_send()
                if data and not b.is_closed:
                    b.receive_data(data, self.now)
                    moved = True

    def start(self) -> None:
        """Run STARTDT and drop the resulting events."""
        self.client.start_data_transfer(self.now)
        self.pump()
        drain(self.client)
        drain(self.server)

    def advance(self, seconds: float) -> None:
        """Move the clock and run due timers on both ends (then pump)."""
        self.now += seconds
        for conn in (self.client, self.server):
            deadline = conn.get_timer()
            if deadline is not None and deadline <= self.now:
                conn.handle_timer(self.now)
        self.pump()
