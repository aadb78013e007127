"""The pydantic building blocks every config shares: the recipe, each stage's config and the training config."""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field

Domain = Literal["biomedical", "clinical", "general"]
SourceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$")]
Fraction = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    """A config that refuses unknown keys, so a typo is an error and not a silently ignored setting."""

    model_config = ConfigDict(extra="forbid")


def union_tag(model: type[BaseModel]) -> str | None:
    """The value that picks `model` out of a union (a stage's `kind`, a source's `format`): its first required field
    whose type is a one-value Literal. pydantic names it in an error's location."""
    for field in model.model_fields.values():
        if get_origin(field.annotation) is Literal and len(get_args(field.annotation)) == 1 and field.is_required():
            return str(get_args(field.annotation)[0])
    return None


@cache
def config_sections(model: type[BaseModel]) -> dict[tuple[str, ...], frozenset[str]]:
    """Every section of a config, as pydantic locates it (the keys above it, and the kind or format of a union
    member: ("stages", "dedup")), with the keys it accepts: what a misspelled or misplaced key is compared with."""
    sections: dict[tuple[str, ...], set[str]] = {}

    def walk(model: type[BaseModel], where: tuple[str, ...]) -> None:
        if where in sections:
            return
        sections[where] = set()
        for name, field in model.model_fields.items():
            key = field.alias or name
            sections[where].add(key)
            types = [field.annotation]
            while types:
                kind = types.pop()
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    tag = union_tag(kind)
                    walk(kind, (*where, key, *([tag] if tag else [])))
                types.extend(get_args(kind))

    walk(model, ())
    return {where: frozenset(keys) for where, keys in sections.items()}


def did_you_mean(problem: dict, model: type[BaseModel]) -> str:
    """A hint for one of pydantic's errors in a config of type `model`, or "": for a misspelled key the closest key
    of its own section ("; did you mean 'threshold'?"), for a key in the wrong section where it goes ("; seq_len
    goes under shards"), else the closest key of another section and where that goes; for a misspelled kind or
    format the closest value it takes."""
    if problem["type"] == "union_tag_invalid":
        close = difflib.get_close_matches(str(problem["ctx"]["tag"]), re.findall(r"'([^']*)'", problem["ctx"]["expected_tags"]), n=1)
        return f"; did you mean '{close[0]}'?" if close else ""
    if problem["type"] != "extra_forbidden":
        return ""
    sections, typed = config_sections(model), str(problem["loc"][-1])
    here = tuple(str(part) for part in problem["loc"][:-1] if not isinstance(part, int))
    if close := difflib.get_close_matches(typed, sections.get(here, frozenset()), n=1):
        return f"; did you mean '{close[0]}'?"

    def places(key: str) -> str:
        return " or ".join(sorted(" -> ".join(where) or "the top level" for where, keys in sections.items() if key in keys))

    if typed in set().union(*sections.values()):
        return f"; {typed} goes under {places(typed)}"
    if close := difflib.get_close_matches(typed, set().union(*sections.values()), n=1):
        return f"; did you mean '{close[0]}' (under {places(close[0])})?"
    return ""


def read_yaml(path: Path, what: str, error: type[Exception]):
    """A YAML file's content. A missing file or invalid YAML raises `error` with one line naming the file."""
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise error(f"{path}:{where} not valid YAML: {getattr(problem, 'problem', None) or problem}") from None
