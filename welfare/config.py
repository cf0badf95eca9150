"""Load and validate `params.yaml`, the only experiment configuration.

The schema lives in `welfare/schemas/`, package data, so an installed wheel validates too:
`params.schema.yaml` is the root and each top-level section has its own file (`maze.schema.yaml`,
...) referenced by `$ref`, so one stage's keys are defined in one place. Validation happens
before any work; every error is one line naming the key path and what was expected, e.g.
``params.yaml: maze.size: expected integer ≥ 20, got "big"``. Defaults declared in the schema
are filled in, so a partial file (a paper-scale overlay) works.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent  # the checkout (tests, benchmarks)
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
ROOT_SCHEMA = "params.schema.yaml"
DEFAULT_PARAMS = Path("params.yaml")
# Top-level tables an overlay file replaces instead of merging into: a paper-scale overlay's
# organisms are the whole experiment, not additions to the organism-scale default row.
REPLACED_BY_OVERLAY = ("organisms",)


class ParamsError(ValueError):
    """A params file that is missing, unreadable or does not match the schema."""


def _load_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: a directory, not a params file") from None
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParamsError(f"{path}: not valid YAML{where}: {problem}") from None


def _schema_registry():
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources = []
    for file in sorted(SCHEMA_DIR.glob("*.schema.yaml")):
        contents = _load_yaml(file)
        resources.append((file.name, Resource.from_contents(contents, DRAFT202012)))
    return Registry().with_resources(resources)


def load_schema() -> dict[str, Any]:
    return _load_yaml(SCHEMA_DIR / ROOT_SCHEMA)


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `overlay` into a copy of `base`: mappings recursively, everything else replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:57] + "..."
    return json.dumps(value)


def _describe(error: Any) -> str:
    """The part of the one-line message after the key path, e.g. `unknown key "sise" (...)`."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    kw = error.validator
    if kw == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        close = difflib.get_close_matches(extra[0], allowed, n=1)
        hint = f"; did you mean {_format_value(close[0])}?" if close else ""
        return f"unknown key {_format_value(extra[0])} (allowed: {', '.join(allowed)}){hint}"
    if kw == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return (
            f"missing key {_format_value(missing[0])} "
            f"(required: {', '.join(error.validator_value)})"
        )
    if "propertyNames" in error.schema_path:
        return f"invalid name {_format_value(error.instance)} (expected {_expected(error)})"
    return f"expected {_expected(error)}, got {_format_value(error.instance)}"


def _expected(error: Any) -> str:
    """Say in words what the failing schema keyword wanted."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    kw = error.validator
    if kw == "enum":
        return "one of " + ", ".join(_format_value(v) for v in schema["enum"])
    if kw == "minLength":
        return "a non-empty string"
    if kw == "maxLength":
        return f"a string of ≤ {schema['maxLength']} characters"
    if kw == "pattern":
        return f"a name matching /{schema['pattern']}/"
    kind = schema.get("type", "value")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    bounds = []
    if "minimum" in schema:
        bounds.append(f"≥ {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        bounds.append(f"> {schema['exclusiveMinimum']}")
    if "maximum" in schema:
        bounds.append(f"≤ {schema['maximum']}")
    if "exclusiveMaximum" in schema:
        bounds.append(f"< {schema['exclusiveMaximum']}")
    if "enum" in schema:
        bounds = ["one of " + ", ".join(_format_value(v) for v in schema["enum"])]
    if "pattern" in schema:
        bounds.append(f"matching /{schema['pattern']}/")
    if "minItems" in schema and kw == "minItems":
        bounds.append(f"with ≥ {schema['minItems']} items")
    if "maxItems" in schema and kw == "maxItems":
        bounds.append(f"with ≤ {schema['maxItems']} items")
    if kw == "minLength":
        bounds.append("non-empty")
    if kw in ("anyOf", "oneOf"):
        return "a value of " + " or ".join(
            str(s.get("description") or s.get("type") or "another shape")
            for s in error.validator_value
        )
    return f"{kind} {' and '.join(bounds)}".strip()


def _key_path(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _fill_defaults(params: Any, schema: Mapping[str, Any], resolve) -> Any:
    """Fill `default` values of object properties, recursing into given sub-objects and into
    the items of given arrays."""
    if "$ref" in schema:
        schema = resolve(schema["$ref"])
    if isinstance(params, list) and isinstance(schema.get("items"), Mapping):
        for item in params:
            _fill_defaults(item, schema["items"], resolve)
        return params
    if not isinstance(params, dict):
        return params
    for key, sub in schema.get("properties", {}).items():
        if sub.get("x-fill-defaults") is False:
            continue  # an override block: its absent keys fall back elsewhere, not to defaults
        if "$ref" in sub:
            sub = resolve(sub["$ref"])
        if key not in params and "default" in sub:
            params[key] = copy.deepcopy(sub["default"])
        if key in params:
            _fill_defaults(params[key], sub, resolve)
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        for key in params:
            if key not in schema.get("properties", {}):
                _fill_defaults(params[key], extra, resolve)
    return params


def validate_params(params: Any, source: str = "params.yaml") -> dict[str, Any]:
    """Validate a params mapping against the schema, fill defaults, return it.

    Raises ParamsError with one line per the first (most specific) error.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    if not isinstance(params, dict):
        raise ParamsError(f"{source}: (top level): expected a mapping, got {_format_value(params)}")
    registry = _schema_registry()
    schema = load_schema()
    validator = Draft202012Validator(schema, registry=registry)
    errors = list(validator.iter_errors(params))
    if errors:
        error = best_match(errors, key=_relevance)
        raise ParamsError(f"{source}: {_key_path(error)}: {_describe(error)}")
    resolver = registry.resolver()

    def resolve(ref: str) -> Mapping[str, Any]:
        return resolver.lookup(ref).contents

    filled = _fill_defaults(copy.deepcopy(params), schema, resolve)
    _check_cross_references(filled, source)
    return filled


def _relevance(error: Any) -> tuple[int, int]:
    # Deepest error first: it names the most specific key.
    return (-len(list(error.absolute_path)), 0)


def _check_cross_references(params: dict[str, Any], source: str) -> None:
    """Checks JSON Schema cannot express: cross-references and ordered pairs of values."""
    maze = params.get("maze", {})
    for key, strict in (("carve_steps", False), ("mold_fraction", True)):
        pair = maze.get(key, {})
        low, high = pair.get("low"), pair.get("high")
        if low is not None and high is not None and (low >= high if strict else low > high):
            relation = "<" if strict else "≤"
            raise ParamsError(
                f"{source}: maze.{key}: expected low {relation} high, got low {low}, high {high}"
            )
    reading = params.get("corpus", {}).get("genres", {}).get("spatial_reading", {})
    low, high = reading.get("min_clauses"), reading.get("max_clauses")
    if low is not None and high is not None and low > high:
        raise ParamsError(
            f"{source}: corpus.genres.spatial_reading: expected min_clauses ≤ max_clauses, "
            f"got min_clauses {low}, max_clauses {high}"
        )
    pretrain = params.get("pretrain", {})
    fresh, batch = pretrain.get("fresh", {}).get("blocks"), pretrain.get("batch_size")
    if fresh is not None and batch is not None and fresh > batch:
        raise ParamsError(
            f"{source}: pretrain.fresh.blocks: expected at most pretrain.batch_size ({batch}), "
            f"got {fresh}"
        )
    first = pretrain.get("fresh", {}).get("few_clauses", {}).get("steps") or 0
    for i, phase in enumerate(pretrain.get("fresh", {}).get("phases") or []):
        if phase["from_step"] <= first:
            raise ParamsError(
                f"{source}: pretrain.fresh.phases.{i}.from_step: expected above the previous "
                f"phase's start ({first}), got {phase['from_step']}"
            )
        first = phase["from_step"]
        if pretrain.get("steps") is not None and first >= pretrain["steps"]:
            raise ParamsError(
                f"{source}: pretrain.fresh.phases.{i}.from_step: expected below pretrain.steps "
                f"({pretrain['steps']}), got {first} (a phase that never runs; drop it from "
                "the list)"
            )
    restart, steps = pretrain.get("restart", {}), pretrain.get("steps")
    at_step = restart.get("at_step")
    if at_step and steps is not None and at_step >= steps:
        raise ParamsError(
            f"{source}: pretrain.restart.at_step: expected below pretrain.steps ({steps}), "
            f"got {at_step}"
        )
    early = restart.get("early", {}).get("at_step")
    if at_step and early and early >= at_step:
        raise ParamsError(
            f"{source}: pretrain.restart.early.at_step: expected below pretrain.restart.at_step "
            f"({at_step}), got {early}"
        )
    late = restart.get("late", {}).get("at_step")
    if at_step and late and not (at_step < late and (steps is None or late < steps)):
        raise ParamsError(
            f"{source}: pretrain.restart.late.at_step: expected after pretrain.restart.at_step "
            f"({at_step}) and below pretrain.steps ({steps}), got {late}"
        )
    if at_step and pretrain.get("reading_probe", {}).get("n") == 0:
        raise ParamsError(
            f"{source}: pretrain.restart.at_step: the restart rule reads the reading probe; "
            "expected pretrain.reading_probe.n > 0, got 0"
        )
    _check_axis_positions(params, source)
    mappings = params.get("mappings", {})
    for name, organism in params.get("organisms", {}).items():
        mapping = organism.get("mapping")
        if mapping is not None and mapping not in mappings:
            raise ParamsError(
                f"{source}: organisms.{name}.mapping: expected one of "
                f"{', '.join(_format_value(m) for m in sorted(mappings))}, "
                f"got {_format_value(mapping)}"
            )
        train = deep_merge(params.get("train", {}), organism.get("train") or {})
        mazes, rotations = train.get("mazes_per_step"), train.get("rotations")
        if mazes is not None and rotations is not None and mazes % rotations:
            raise ParamsError(
                f"{source}: organisms.{name}: train.mazes_per_step ({mazes}) must be a multiple "
                f"of train.rotations ({rotations})"
            )
        if train.get("rotation_moves") == "shared":
            _check_shared_moves(source, name, train)
        _check_curriculum(source, name, organism, train, params.get("maze", {}).get("turns"))
        if train.get("policy_gradient") == "all_actions" and (
            organism.get("algorithm") != "reinforce" or train.get("discount") != 0
        ):
            raise ParamsError(
                f"{source}: organisms.{name}: train.policy_gradient all_actions needs algorithm "
                f"reinforce and train.discount 0, got {organism.get('algorithm')} and "
                f"{train.get('discount')}"
            )
    for name, mapping in mappings.items():
        emoji = [mapping.get(k) for k in ("mold", "gold", "path")]
        if len(set(emoji)) != 3:
            raise ParamsError(
                f"{source}: mappings.{name}: expected three different tile symbols, got "
                f"{_format_value(emoji)}"
            )


def _check_shared_moves(source: str, name: str, train: dict[str, Any]) -> None:
    """`train.rotation_moves: shared` needs turned copies, the all-action gradient (the copies'
    moves are not their own samples), and rollout groups of whole blocks of copies."""
    rotations, gradient = train.get("rotations"), train.get("policy_gradient")
    if rotations == 1 or gradient != "all_actions":
        raise ParamsError(
            f"{source}: organisms.{name}: train.rotation_moves shared needs train.rotations 2 or "
            f"4 and train.policy_gradient all_actions, got {rotations} and {gradient}"
        )
    block, size = rotations * train.get("group_size", 1), train.get("rollout_batch", 0)
    if size and size % block:
        raise ParamsError(
            f"{source}: organisms.{name}: train.rollout_batch ({size}) must be 0 or a multiple of "
            f"train.rotations × train.group_size ({block}) when rotation_moves is shared"
        )


def _check_curriculum(
    source: str, name: str, organism: dict[str, Any], train: dict[str, Any], turns: int | None
) -> None:
    """A curriculum's short phase plays fewer turns than the protocol's episodes, in RL."""
    curriculum = train.get("curriculum") or {}
    if not curriculum.get("steps"):
        return
    if organism.get("algorithm") == "sft":
        raise ParamsError(
            f"{source}: organisms.{name}: train.curriculum is for RL; expected algorithm drgrpo "
            "or reinforce, got sft"
        )
    short = curriculum.get("turns", 1)
    if turns is not None and short >= turns:
        raise ParamsError(
            f"{source}: organisms.{name}: train.curriculum.turns: expected below maze.turns "
            f"({turns}), got {short}"
        )


def _check_axis_positions(params: dict[str, Any], source: str) -> None:
    """The axis reads positions the activation stores hold, and steers with one it analyses."""
    axis, recorded = params.get("axis", {}), params.get("activations", {}).get("positions")
    analysed = axis.get("positions")
    if recorded is not None and analysed is not None:
        missing = [p for p in analysed if p not in recorded]
        if missing:
            raise ParamsError(
                f"{source}: axis.positions: expected a subset of activations.positions "
                f"{_format_value(recorded)}, got {_format_value(analysed)}"
            )
    steer = axis.get("steer_position")
    if steer is not None and analysed is not None and steer not in analysed:
        raise ParamsError(
            f"{source}: axis.steer_position: expected one of axis.positions "
            f"{_format_value(analysed)}, got {_format_value(steer)}"
        )


def load_params(paths: Sequence[str | Path] | str | Path | None = None) -> dict[str, Any]:
    """Read params files (later ones deep-merged over earlier ones), validate, fill defaults.

    Tables in REPLACED_BY_OVERLAY (the organisms) are replaced whole by a later file naming them.
    """
    if paths is None or (isinstance(paths, Sequence) and not isinstance(paths, str) and not paths):
        paths = [DEFAULT_PARAMS]
    if isinstance(paths, (str, Path)):
        paths = [paths]
    source = str(paths[-1]) if len(paths) == 1 else " + ".join(str(p) for p in paths)
    return validate_params(merge_params(paths), source=source)


def merge_params(paths: Sequence[str | Path]) -> dict[str, Any]:
    """The files of `load_params` merged as it merges them, not validated."""
    merged: dict[str, Any] = {}
    for path in paths:
        data = _load_yaml(Path(path))
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ParamsError(f"{path}: (top level): expected a mapping, got {_format_value(data)}")
        for key in REPLACED_BY_OVERLAY:
            if key in data:
                merged.pop(key, None)
        merged = deep_merge(merged, data)
    return merged


def fill_defaults(params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with the schema's defaults filled in as `validate_params` fills them, but not
    validated: for machines without jsonschema (the GPU device) reading files known to be valid.
    """

    def resolve(ref: str) -> Mapping[str, Any]:
        file, _, fragment = ref.partition("#")
        if fragment or not file:
            raise ValueError(f"schema $ref {ref!r}: only whole schema files are resolved here")
        return _load_yaml(SCHEMA_DIR / file)

    return _fill_defaults(copy.deepcopy(dict(params)), load_schema(), resolve)


def params_hash(params: Mapping[str, Any], keys: Iterable[str] | None = None) -> str:
    """A short content hash of the params (or of the named top-level sections), for provenance."""
    subset = params if keys is None else {k: params.get(k) for k in keys}
    blob = json.dumps(subset, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
