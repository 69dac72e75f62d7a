"""Builder classes: fill a frozen slotted dataclass with plain attribute stores, then retype it.

A frozen dataclass refuses ``o.x = v`` (its ``__setattr__`` raises), so decoders that skip
``__init__`` set each slot through its descriptor (``cls.x.__set__(o, v)``), about 50 ns a
slot. :func:`builder` returns a subclass of ``cls`` that adds no slot and restores
``object.__setattr__``/``object.__delattr__``: its instances take ``o.x = v`` as a plain slot
store (the interpreter's fast path, a few ns), and since the builder has exactly the layout
of ``cls``, ``o.__class__ = cls`` then turns the filled object into an ordinary ``cls``
instance (Python data model, "__class__ assignment" between compatible layouts). The result
is indistinguishable from one built by ``__init__``: same type, same slots, frozen again;
``tests/xep0323/test_codec_compiled.py`` proves equality and hashing.
"""

from __future__ import annotations

__all__ = ["builder"]


def builder(cls: type) -> type:
    """Return the builder subclass of the slotted class ``cls`` (no new slot, plain ``__setattr__``).

    Raises:
        TypeError: ``cls`` or a base has a per-instance ``__dict__`` (not slotted throughout).
    """
    if any("__dict__" in vars(k) for k in cls.__mro__):  # the class that adds a __dict__ holds its descriptor
        raise TypeError(f"{cls.__name__} is not a slotted class")
    namespace = {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__}
    return type(f"_{cls.__name__}Builder", (cls,), namespace)
