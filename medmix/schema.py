"""The pydantic building blocks every config shares: the recipe, each stage's config and the training config."""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field

Domain = Literal["biomedical", "clinical", "general"]
SourceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$")]
Fraction = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    """A config that refuses unknown keys, so a typo is an error and not a silently ignored setting."""

    model_config = ConfigDict(extra="forbid")


@cache
def model_keys(model: type[BaseModel]) -> frozenset[str]:
    """Every key that some part of a config accepts: what a misspelled key is compared with."""
    keys, seen, todo = set(), set(), [model]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for field in model.model_fields.values():
            keys.add(field.alias or "")
            types = [field.annotation]
            while types:
                kind = types.pop()
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    todo.append(kind)
                types.extend(get_args(kind))
        keys.update(model.model_fields)
    return frozenset(keys - {""})


def did_you_mean(problem: dict, model: type[BaseModel]) -> str:
    """"; did you mean 'x'?" for one of pydantic's errors: a misspelled key, compared with every key of `model`,
    or a misspelled kind or format (a discriminator), compared with the values it takes; else ""."""
    if problem["type"] == "extra_forbidden":
        typed, choices = str(problem["loc"][-1]), model_keys(model)
    elif problem["type"] == "union_tag_invalid":
        typed, choices = str(problem["ctx"]["tag"]), re.findall(r"'([^']*)'", problem["ctx"]["expected_tags"])
    else:
        return ""
    close = difflib.get_close_matches(typed, choices, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def read_yaml(path: Path, what: str, error: type[Exception]):
    """A YAML file's content. A missing file or invalid YAML raises `error` with one line naming the file."""
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML: {problem}") from None
