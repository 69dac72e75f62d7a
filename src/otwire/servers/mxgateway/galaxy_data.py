"""The simulator's Galaxy: a fixed plant of a few dozen deployed objects with their attributes.

Deterministic (same objects, ids and attributes at every start): areas ``Plant``,
``Area1``, ``Area2``, ``Utilities``; a platform and an engine; pumps with contained motors,
tanks, valves, compressors, conveyors, a boiler, chillers, an I/O object; ``SimTags``
with ``--items`` numbered attributes (``SimTags.Tag0001`` ...); and ``Fault`` whose
attributes trigger the fault injection (``Fault.WriteDeniedSetpoint``, ``Fault.SlowValue``,
``Fault.KillStreamValue``). Category ids and the template chains follow the Galaxy
Repository (research §3): 1 WinPlatform, 3 AppEngine, 10 ApplicationObject, 11 I/O
object, 13 Area.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from otwire.servers.mxgateway.values import kind_of

__all__ = ["AREA", "Attribute", "GObject", "build_galaxy"]

#: ``template_definition.category_id`` of an area.
AREA = 13

#: value kind -> (mx_data_type, data_type_name) (research §3 numbering).
_DATA_TYPES = {"bool": (1, "Boolean"), "int": (2, "Integer"), "double": (4, "Double"), "string": (5, "String")}


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of an object."""

    name: str
    security_classification: int = 0
    is_historized: bool = False
    is_alarm: bool = False
    is_built_in: bool = False

    def data_type(self) -> tuple[int, str]:
        """``(mx_data_type, data_type_name)`` of the attribute's value kind."""
        return _DATA_TYPES[kind_of(self.name)]


@dataclass(frozen=True, slots=True)
class GObject:
    """One deployed object (``gobject`` row with its template chain and attributes)."""

    gobject_id: int
    tag_name: str
    contained_name: str
    parent_gobject_id: int
    category_id: int
    template_chain: tuple[str, ...]
    attributes: tuple[Attribute, ...] = ()
    hosted_by_gobject_id: int = 0
    contained_path: str = field(default="")

    @property
    def is_area(self) -> bool:
        """True for areas (category 13)."""
        return self.category_id == AREA

    @property
    def browse_name(self) -> str:
        """``contained_name``, falling back to ``tag_name``."""
        return self.contained_name or self.tag_name


_SHORT_DESC = Attribute("ShortDesc", security_classification=5, is_built_in=True)
_TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[Attribute, ...]]] = {
    "Pump": (
        ("$Pump", "$gPump", "$UserDefined"),
        (
            Attribute("PV", is_historized=True),
            Attribute("SP", security_classification=1),
            Attribute("Running", is_historized=True),
            Attribute("StartCount"),
            Attribute("HiAlarm", is_alarm=True),
        ),
    ),
    "Motor": (("$Motor", "$UserDefined"), (Attribute("Speed", is_historized=True), Attribute("Running"))),
    "Tank": (
        ("$Tank", "$UserDefined"),
        (Attribute("Level", is_historized=True), Attribute("HiLevelAlarm", is_alarm=True)),
    ),
    "Valve": (("$Valve", "$gValve", "$UserDefined"), (Attribute("Open"), Attribute("Position"), Attribute("Mode"))),
    "Compressor": (
        ("$Compressor", "$UserDefined"),
        (Attribute("Pressure", is_historized=True), Attribute("RunHours"), Attribute("HiPressureAlarm", is_alarm=True)),
    ),
    "Conveyor": (("$Conveyor", "$UserDefined"), (Attribute("Speed"), Attribute("Running"), Attribute("ItemCount"))),
    "Boiler": (
        ("$Boiler", "$UserDefined"),
        (
            Attribute("Temperature", is_historized=True),
            Attribute("SecuredSP", security_classification=2),
            Attribute("VerifiedSP", security_classification=3),
        ),
    ),
    "Chiller": (("$Chiller", "$UserDefined"), (Attribute("Temperature", is_historized=True), Attribute("Running"))),
}


class _Builder:
    def __init__(self) -> None:
        self.objects: list[GObject] = []
        self.paths: dict[int, str] = {0: ""}

    def add(self, tag: str, parent: int, category: int, chain: tuple[str, ...], attributes: tuple[Attribute, ...] = (),
            *, contained: str = "", hosted_by: int = 0) -> int:  # fmt: skip
        gobject_id = len(self.objects) + 1
        name = contained or tag
        path = f"{self.paths[parent]}/{name}" if self.paths[parent] else name
        self.paths[gobject_id] = path
        self.objects.append(
            GObject(gobject_id, tag, contained, parent, category, chain, (*attributes, _SHORT_DESC), hosted_by, path)
        )
        return gobject_id

    def instance(self, template: str, number: int, parent: int) -> int:
        chain, attributes = _TEMPLATES[template]
        return self.add(f"{template}_{number:03d}", parent, 10, chain, attributes)


def build_galaxy(sim_items: int = 100) -> list[GObject]:
    """The Galaxy's objects in ``gobject_id`` order (parents before children).

    Args:
        sim_items: Attributes of ``SimTags`` (``Tag0001`` ...).
    """
    b = _Builder()
    plant = b.add("Plant", 0, AREA, ("$Area",))
    platform = b.add("Platform_001", plant, 1, ("$WinPlatform",), (Attribute("CPULoad"), Attribute("ScanState")))
    b.add("AppEngine_001", plant, 3, ("$AppEngine",), (Attribute("ScanState"),), hosted_by=platform)
    areas = [b.add(name, plant, AREA, ("$Area",)) for name in ("Area1", "Area2", "Utilities")]
    for number in range(1, 5):
        pump = b.instance("Pump", number, areas[0])
        chain, attributes = _TEMPLATES["Motor"]
        b.add(f"Motor_{number:03d}", pump, 10, chain, attributes, contained="Motor")
    for template, count, area in (("Tank", 2, 0), ("Valve", 3, 0), ("Compressor", 3, 1), ("Conveyor", 3, 1)):
        for number in range(1, count + 1):
            b.instance(template, number, areas[area])
    b.add("DI_001", areas[1], 11, ("$DDESuiteLinkClient",), (Attribute("ScanState"),))
    b.instance("Boiler", 1, areas[2])
    for number in (1, 2):
        b.instance("Chiller", number, areas[2])
    tags = tuple(Attribute(f"Tag{number:04d}") for number in range(1, sim_items + 1))
    b.add("SimTags", plant, 10, ("$SimTags", "$UserDefined"), tags)
    faults = (Attribute("WriteDeniedSetpoint"), Attribute("SlowValue"), Attribute("KillStreamValue"))
    b.add("Fault", plant, 10, ("$Fault", "$UserDefined"), faults)
    return b.objects
