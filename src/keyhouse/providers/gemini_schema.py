"""JSON Schema → the OpenAPI subset Google's ``generateContent`` family accepts (pure).

Tool ``parameters`` and a ``response_format`` schema go through ``clean_schema`` on
their way to the Gemini API and Vertex AI alike.
"""

from __future__ import annotations

from typing import Any

from keyhouse.errors import BadRequest

JSON = dict[str, Any]

# The subset of OpenAPI 3 schema keys both Gemini and Vertex accept in ``parameters``
# and ``responseSchema``; anything else (additionalProperties, $schema, const, ...) is
# rejected with 400 "Invalid JSON payload received. Unknown name ...".
_SCHEMA_KEYS = frozenset(
    {
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "propertyOrdering",
    }
)
_TYPES = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"})
_FORMATS = {
    "STRING": {"enum", "date-time"},
    "INTEGER": {"int32", "int64"},
    "NUMBER": {"float", "double"},
}


def clean_schema(schema: Any, defs: JSON | None = None, depth: int = 0) -> JSON:
    """A JSON Schema → the OpenAPI subset Gemini accepts: ``$ref`` inlined, ``type``
    lists and null variants turned into ``nullable``, unknown keys dropped."""
    if not isinstance(schema, dict):
        return {}
    if depth > 40:  # also stops a $ref cycle
        raise BadRequest("A JSON schema is nested too deeply (or its $ref is recursive).")
    if defs is None:
        defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    if isinstance(schema.get("$ref"), str):
        target = defs.get(schema["$ref"].rsplit("/", 1)[-1])
        if not isinstance(target, dict):
            raise BadRequest(f"A JSON schema has an unresolvable $ref {schema['$ref']!r}.")
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return clean_schema({**target, **rest}, defs, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: JSON = {}
        for sub in schema["allOf"]:
            sub = clean_schema(sub, defs, depth + 1)
            merged.update({k: v for k, v in sub.items() if k not in ("properties", "required")})
            merged.setdefault("properties", {}).update(sub.get("properties") or {})
            merged.setdefault("required", []).extend(sub.get("required") or [])
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return {**merged, **clean_schema(rest, defs, depth + 1)} if rest else merged
    out: JSON = {k: v for k, v in schema.items() if k in _SCHEMA_KEYS}
    variants = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(variants, list):
        kept = [v for v in variants if not (isinstance(v, dict) and v.get("type") == "null")]
        if len(kept) < len(variants):
            out["nullable"] = True
        if len(kept) == 1:
            return {**clean_schema(kept[0], defs, depth + 1), **out}
        out["anyOf"] = [clean_schema(v, defs, depth + 1) for v in kept]
    type_ = schema.get("type")
    if isinstance(type_, list):
        kept_types = [t for t in type_ if t != "null"]
        if len(kept_types) < len(type_):
            out["nullable"] = True
        type_ = kept_types[0] if len(kept_types) == 1 else None
    if "const" in schema and "enum" not in schema:
        out["enum"] = [schema["const"]]
    gemini_type = str(type_).upper() if type_ else None
    if gemini_type in _TYPES:
        out["type"] = gemini_type
    if "enum" in out:
        # Gemini enums are STRING only; a numeric enum stays a plain number.
        if all(isinstance(v, str) for v in out["enum"]):
            out.setdefault("type", "STRING")
        else:
            del out["enum"]
    fmt = schema.get("format")
    if fmt in _FORMATS.get(str(out.get("type")), ()):
        out["format"] = fmt
    if isinstance(schema.get("items"), dict):
        out["items"] = clean_schema(schema["items"], defs, depth + 1)
    properties = schema.get("properties")
    if isinstance(properties, dict) and properties:
        out["properties"] = {
            name: clean_schema(sub, defs, depth + 1) for name, sub in properties.items()
        }
    if "required" in out:
        present = out.get("properties") or {}
        out["required"] = [n for n in out["required"] if n in present]
        if not out["required"]:
            del out["required"]
    return out
