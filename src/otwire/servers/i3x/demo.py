"""The demo address space of ``otwire serve i3x``: a small pump plant whose values change every second.

One namespace, seven object types, the two relationship pairs, and this hierarchy
(``*`` marks compositions: ``HasComponent`` children, followed by ``maxDepth``)::

    plant
    └── area-1
        └── line-1
            ├── pump-101*   ├── motor-101*  ├── motor-101-speed, motor-101-current
            │               ├── pump-101-flow, pump-101-bearing-temperature
            ├── pump-102*   (the same shape)
            └── tank-1*     └── tank-1-level

Sensor values follow smooth functions of the wall clock, so two runs agree; each
element starts with ``history_seconds`` of one-second history.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from otwire.codecs.i3x import VQT, Namespace, ObjectType, RelationshipType, format_timestamp
from otwire.protocols.i3x.space import COMPONENT_OF, HAS_CHILDREN, HAS_COMPONENT, HAS_PARENT, MemorySpace

__all__ = ["NAMESPACE", "DemoPlant"]

NAMESPACE = "urn:otwire:i3x:demo"


def _number_type(element_id: str, name: str, unit: str) -> ObjectType:
    schema = {"type": "number", "unit": unit}
    return ObjectType(element_id, name, NAMESPACE, element_id, "1.0", schema)


def _object_type(element_id: str, name: str) -> ObjectType:
    return ObjectType(element_id, name, NAMESPACE, element_id, "1.0", {"type": "object"})


class DemoPlant:
    """The demo :class:`~otwire.protocols.i3x.space.MemorySpace` and its value generator.

    Args:
        now: UNIX seconds of the start (history ends there).
        history_seconds: Seconds of one-second history seeded per sensor.
    """

    def __init__(self, now: float, *, history_seconds: int = 60) -> None:
        self.space = MemorySpace()
        self.sensors: dict[str, tuple[float, float, float]] = {}
        self._build()
        start = VQT(None, "GoodNoData", format_timestamp(datetime.fromtimestamp(math.floor(now), UTC)))
        for element_id in list(self.space.element_ids()):
            if element_id not in self.sensors:
                self.space.set_value(element_id, start, record=False)
        for second in range(history_seconds, 0, -1):
            self.tick(now - second)
        self.tick(now)

    def _build(self) -> None:
        space = self.space
        space.add_namespace(Namespace(NAMESPACE, "otwire demo plant"))
        for type_id, name in (("Plant", "Plant"), ("Area", "Area"), ("Line", "Production line"),
                              ("Pump", "Centrifugal pump"), ("Motor", "Electric motor"), ("Tank", "Tank")):  # fmt: skip
            space.add_object_type(_object_type(type_id, name))
        space.add_object_type(_number_type("Measurement", "Measurement", ""))
        for forward, reverse in ((HAS_PARENT, HAS_CHILDREN), (HAS_COMPONENT, COMPONENT_OF)):
            space.add_relationship_type(RelationshipType(forward, forward, NAMESPACE, forward, reverse))
            space.add_relationship_type(RelationshipType(reverse, reverse, NAMESPACE, reverse, forward))
        space.add_object("plant", "Demo plant", "Plant", description="The whole site")
        space.add_object("area-1", "Area 1", "Area", parent_id="plant")
        space.add_object("line-1", "Line 1", "Line", parent_id="area-1")
        for number, phase in (("101", 0.0), ("102", 1.3)):
            self._pump(number, phase)
        space.add_object("tank-1", "Tank 1", "Tank", parent_id="line-1")
        self._sensor("tank-1-level", "Level", "tank-1", (62.0, 20.0, 300.0))

    def _pump(self, number: str, phase: float) -> None:
        pump, motor = f"pump-{number}", f"motor-{number}"
        self.space.add_object(pump, f"Pump {number}", "Pump", parent_id="line-1", description=f"Feed pump {number}")
        self.space.add_object(motor, f"Motor {number}", "Motor", parent_id=pump, component=True)
        self._sensor(f"{motor}-speed", "Speed", motor, (1450.0 + 20 * phase, 15.0, 40.0))
        self._sensor(f"{motor}-current", "Current", motor, (11.5, 0.8, 25.0 + phase))
        self._sensor(f"{pump}-flow", "Flow", pump, (42.0, 3.0, 60.0 + 7 * phase))
        self._sensor(f"{pump}-bearing-temperature", "Bearing temperature", pump, (68.0, 2.5, 180.0))

    def _sensor(self, element_id: str, name: str, parent: str, wave: tuple[float, float, float]) -> None:
        self.space.add_object(element_id, name, "Measurement", parent_id=parent, component=True)
        self.sensors[element_id] = wave

    def tick(self, now: float) -> list[tuple[str, VQT]]:
        """Set every sensor's value for UNIX time ``now`` (whole seconds) and return the changes."""
        second = math.floor(now)
        stamp = format_timestamp(datetime.fromtimestamp(second, UTC))
        changes = []
        for element_id, (base, amplitude, period) in self.sensors.items():
            value = round(base + amplitude * math.sin(2 * math.pi * second / period), 3)
            vqt = VQT(value, "Good", stamp)
            self.space.set_value(element_id, vqt)
            changes.append((element_id, vqt))
        return changes
