"""Recipe files (`kind: Recipe`) and where they are found: the ones shipped in
`runner/recipes/`, a `recipes/` folder beside the scenario, and the folders of
`DRILL_RECIPE_PATH`; and the typed inputs a use passes them.

A recipe file that does not parse, or names a recipe twice, is an issue located in that
file. An input is checked against its declared type (`string`, `name`, `integer`,
`boolean`, `duration`, `cluster`, `mapping`, `list` with `items`, `object-ref`,
`string-map`) and handed to the templates as plain data (durations as text). Expanding a
use into steps is `recipes`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, TypeAdapter, ValidationError

from runner.errors import InvalidInputError, Issue
from runner.scenario import issues as issue_text
from runner.scenario import model, source
from runner.scenario.located import Source
from runner.scenario.values import Duration, format_duration

BUILTIN = Path(__file__).resolve().parents[1] / "recipes"
PATH_ENV = "DRILL_RECIPE_PATH"
"""More folders of recipes (`os.pathsep`-separated), besides `recipes/` beside the scenario."""
RECIPE_NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
INPUT_NAME = r"^[a-z][A-Za-z0-9]*$"
_SUFFIXES = (".yaml", ".yml")


# --------------------------------------------------------------------------- the file


InputType = Literal[
    "string", "name", "integer", "boolean", "duration", "cluster", "mapping", "list",
    "object-ref", "string-map",
]  # fmt: skip


class RecipeInput(model.Model):
    type: InputType
    description: str = ""
    default: Any = None
    """Absent: the input is required."""
    items: InputType | None = None
    """For a list: the type of each item."""

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set


class TestFailoverSpec(model.Model):
    """What the recipe does in a test failover instead of its steps."""

    description: str = Field(min_length=1)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    cleanup: list[dict[str, Any]] = Field(default_factory=list)
    """Steps added to the failback phase of a test failover (it always runs them)."""
    requires: list[str] = Field(default_factory=list)
    """Inputs a use must give (not empty) to be run as a test failover (a scratch
    namespace: without it the test would act on production)."""


class RecipeSpec(model.Model):
    description: str = Field(min_length=1)
    inputs: dict[Annotated[str, Field(pattern=INPUT_NAME)], RecipeInput] = Field(
        default_factory=dict
    )
    preflight: list[dict[str, Any]] = Field(default_factory=list)
    baseline: list[dict[str, Any]] = Field(default_factory=list)
    steps: list[dict[str, Any]] = Field(min_length=1)
    measure: dict[str, Any] | None = None
    """`spans`, `timings` and an optional `if` (an input that turns them off)."""
    test_failover: TestFailoverSpec | None = None


class RecipeMetadata(model.Model):
    name: Annotated[str, Field(pattern=RECIPE_NAME)]
    description: str = ""


class Recipe(model.Model):
    api_version: Literal["drill-runner.dev/v1alpha1"]
    kind: Literal["Recipe"]
    metadata: RecipeMetadata
    spec: RecipeSpec

    @property
    def name(self) -> str:
        return self.metadata.name


@dataclass(frozen=True)
class Found:
    recipe: Recipe
    source: Source
    builtin: bool

    @property
    def file(self) -> str:
        return self.source.file


def validate_recipe(src: Source) -> Recipe:
    """The recipe in `src`, or InvalidInputError locating every problem."""
    try:
        recipe = Recipe.model_validate(src.data)
    except ValidationError as e:
        raise InvalidInputError(issue_text.from_validation_error(e, src, Recipe)) from None
    problems = []
    tf = recipe.spec.test_failover
    for i, name in enumerate(tf.requires if tf is not None else []):
        if name not in recipe.spec.inputs:
            where = src.value_at(("spec", "testFailover", "requires", i))
            problems.append(
                Issue(
                    file=src.file,
                    line=where.line,
                    column=where.column,
                    field=f"spec.testFailover.requires[{i}]",
                    message=f"no input {name!r} (inputs: {', '.join(recipe.spec.inputs)})",
                )
            )
    for key, spec in recipe.spec.inputs.items():
        if not spec.required and spec.default is not None:
            try:
                check_input(spec, spec.default, declared=None)
            except ValueError as e:
                where = src.value_at(("spec", "inputs", key, "default"))
                problems.append(
                    Issue(
                        file=src.file,
                        line=where.line,
                        column=where.column,
                        field=f"spec.inputs.{key}.default",
                        message=str(e),
                    )
                )
    if problems:
        raise InvalidInputError(problems)
    return recipe


# --------------------------------------------------------------------------- finding recipes


@dataclass
class Catalog:
    """The recipes a scenario may use: built in, then from user folders (later folders
    cannot take a name an earlier one has: a clash is an issue)."""

    found: dict[str, Found] = field(default_factory=dict)
    problems: list[Issue] = field(default_factory=list)

    def names(self) -> list[str]:
        return sorted(self.found)


@functools.cache
def builtin() -> Catalog:
    """The recipes shipped with drill-runner (they are tested; a problem here is a bug)."""
    catalog = Catalog()
    _load_folder(catalog, BUILTIN, builtin=True)
    if catalog.problems:  # pragma: no cover - tests/scenario/test_recipes.py loads them all
        raise InvalidInputError(catalog.problems)
    return catalog


def user_folders(scenario_file: Path | None) -> list[Path]:
    """`recipes/` beside the scenario, then each folder of DRILL_RECIPE_PATH."""
    folders = [scenario_file.parent / "recipes"] if scenario_file is not None else []
    folders += [Path(p) for p in os.environ.get(PATH_ENV, "").split(os.pathsep) if p.strip()]
    return folders


def catalog_for(scenario_file: Path | None) -> Catalog:
    base = builtin()
    catalog = Catalog(found=dict(base.found))
    for folder in user_folders(scenario_file):
        _load_folder(catalog, folder, builtin=False)
    return catalog


def _load_folder(catalog: Catalog, folder: Path, *, builtin: bool) -> None:
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix in _SUFFIXES and p.is_file())
    except OSError:
        return  # no such folder: nothing to add
    for path in files:
        try:
            src = source.read(path)
            recipe = validate_recipe(src)
        except InvalidInputError as e:
            catalog.problems += e.issues
            continue
        known = catalog.found.get(recipe.name)
        if known is not None:
            where = src.value_at(("metadata", "name"))
            catalog.problems.append(
                Issue(
                    file=src.file,
                    line=where.line,
                    column=where.column,
                    field="metadata.name",
                    message=f"recipe {recipe.name!r} is already defined in {known.file}",
                )
            )
            continue
        catalog.found[recipe.name] = Found(recipe, src, builtin)


# --------------------------------------------------------------------------- inputs


_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "string": TypeAdapter(StrictStr),
    "name": TypeAdapter(model.Name),
    "integer": TypeAdapter(StrictInt),
    "boolean": TypeAdapter(StrictBool),
    "duration": TypeAdapter(Duration),
    "cluster": TypeAdapter(model.Name),
    "mapping": TypeAdapter(dict[str, Any]),
    "list": TypeAdapter(list[Any]),
    "object-ref": TypeAdapter(model.ObjectRef),
    "string-map": TypeAdapter(dict[str, StrictStr]),
}


def check_input(spec: RecipeInput, value: Any, *, declared: list[str] | None) -> Any:
    """The input's value as templates see it (durations as text, refs as mappings)."""
    try:
        checked = _ADAPTERS[spec.type].validate_python(value)
    except ValidationError as e:
        raise ValueError(_first_message(e, spec.type)) from None
    if spec.type == "duration":
        return format_duration(checked)
    if spec.type == "object-ref":
        return checked.model_dump(by_alias=True, exclude_none=True)
    if spec.type == "cluster" and declared is not None and checked not in declared:
        raise ValueError(
            f"cluster {checked!r} is not declared in spec.clusters ({', '.join(declared)})"
        )
    if spec.type == "list" and spec.items is not None:
        item = RecipeInput(type=spec.items)
        out = []
        for i, v in enumerate(checked):
            try:
                out.append(check_input(item, v, declared=declared))
            except ValueError as e:
                raise ValueError(f"item {i}: {e}") from None
        return out
    return checked


def _first_message(e: ValidationError, kind: str) -> str:
    err = e.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"] if p != "[key]")
    shown = issue_text.describe(err.get("input"))
    expected = {
        "string": "text",
        "name": "a name of a-z, 0-9 and '-' (at most 63 characters)",
        "integer": "a whole number",
        "boolean": "true or false",
        "duration": "a duration like '5m'",
        "cluster": "a cluster name",
        "mapping": "a mapping",
        "list": "a list",
        "object-ref": "an object reference (apiVersion, kind, name, namespace)",
        "string-map": "a mapping of text to text",
    }[kind]
    detail = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "value_error" and not where:
        return detail
    if err["type"] == "value_error" or (where and kind in ("object-ref", "string-map")):
        return f"expected {expected}: {where + ': ' if where else ''}{detail}"
    return f"expected {expected}, got {shown}"
