"""Written values checked against their object type's JSON Schema (research §3 "ObjectType", §4 "value").

``PUT /objects/value`` and ``PUT /objects/history`` give a value that "must conform" to the
``schema`` of the element's object type. :class:`SchemaCheck` finds that schema in the
address space (element -> ``typeElementId`` -> ``ObjectType.schema``), compiles it once per
type with the ``jsonschema`` validator its ``$schema`` names (Draft 2020-12 without one),
and says why a value does not match, with the JSON path of the first mismatch
(``$`` is the value itself, ``$.speed``, ``$.rates[2]``). Unknown keywords (the demo's
``unit``) are ignored, ``format`` is not asserted, and no remote ``$ref`` is ever fetched.

Only values that must be present are checked: quality ``Good`` or ``Uncertain``. ``Bad`` and
``GoodNoData`` carry a null (or stale) value that no schema describes (research §4 "quality").
"""

from __future__ import annotations

import warnings
from typing import Any

from jsonschema import exceptions as schema_errors
from jsonschema import validators
from jsonschema.protocols import Validator

from otwire.protocols.i3x.space import AddressSpace

__all__ = ["SchemaCheck"]

#: Qualities whose value is checked (the others carry no value).
CHECKED_QUALITIES = frozenset({"Good", "Uncertain"})
_MAX_MESSAGE = 200  # characters of the validator's message kept (it quotes the value)


class SchemaCheck:
    """Check written values against their object type's schema, caching one validator per type.

    Args:
        space: Where elements and their object types are looked up.
    """

    def __init__(self, space: AddressSpace) -> None:
        self.space = space
        self._validators: dict[str, tuple[object, Validator | str]] = {}

    def problem(self, element_id: str, value: Any, quality: str) -> tuple[int, str] | None:
        """Why ``value`` does not match the schema of ``element_id``'s type, or ``None`` when it does.

        ``None`` also when nothing can be checked: an unknown element (the write reports 404),
        a type the space does not know, or a quality other than ``Good``/``Uncertain``.

        Returns:
            ``(400, "value at <JSON path> does not match the schema of type <id>: <reason>")``;
            ``(500, why)`` when the type's schema is not a valid JSON Schema (the server's fault,
            for every value written to elements of that type); or ``None``.
        """
        if quality not in CHECKED_QUALITIES:
            return None
        instance = self.space.object(element_id)
        if instance is None:
            return None
        type_id = instance.type_element_id
        validator = self._validator(type_id)
        if validator is None:
            return None
        if isinstance(validator, str):
            return 500, validator
        try:
            error = schema_errors.best_match(validator.iter_errors(value))
        except RecursionError:
            return 400, f"value is nested too deeply to check against the schema of type {type_id}"
        if error is None:
            return None
        message = error.message if len(error.message) <= _MAX_MESSAGE else error.message[:_MAX_MESSAGE] + "..."
        return 400, f"value at {error.json_path} does not match the schema of type {type_id}: {message}"

    def _validator(self, type_id: str) -> Validator | str | None:
        """The compiled validator of ``type_id`` (a str: why its schema is unusable), cached by schema identity."""
        object_type = self.space.object_type(type_id)
        if object_type is None:
            return None
        schema = object_type.schema
        cached = self._validators.get(type_id)
        if cached is not None and cached[0] is schema:
            return cached[1]
        compiled = _compile(type_id, schema)
        self._validators[type_id] = (schema, compiled)
        return compiled


def _compile(type_id: str, schema: Any) -> Validator | str:
    """A validator for ``schema``, or the reason it is not a JSON Schema."""
    if isinstance(schema, bool):  # true: anything, false: nothing
        schema = {} if schema else {"not": {}}
    if not isinstance(schema, dict):
        return f"the schema of type {type_id} is not a JSON Schema (a {type(schema).__name__})"
    with warnings.catch_warnings():  # an unknown "$schema" falls back to the default draft, with a warning
        warnings.simplefilter("ignore", DeprecationWarning)
        cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except schema_errors.SchemaError as exc:
        return f"the schema of type {type_id} is not a valid JSON Schema: {exc.message[:_MAX_MESSAGE]}"
    return cls(schema)
