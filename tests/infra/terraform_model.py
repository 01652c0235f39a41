"""terraform/ as python-hcl2 reads it, with literal strings unquoted and `var.x` references
resolved to their defaults, so that the checks can compare it with the code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
_VAR = re.compile(r"\$\{var\.([A-Za-z0-9_]+)\}")


def unquote(value: Any) -> Any:
    """python-hcl2 keeps a literal string's quotes and drops block markers: undo both."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [unquote(v) for v in value]
    return value


@dataclass
class Terraform:
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative path -> parsed
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)  # root module only
    resources: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_type(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for rtype, name, body in self.resources:
            if rtype == kind:
                yield name, body

    def resolve(self, value: Any) -> Any:
        """A value with each `${var.x}` replaced by x's default (the whole value keeps the
        default's type when it is one reference alone); unknown references stay as they are."""
        if isinstance(value, str):
            whole = _VAR.fullmatch(value)
            if whole and "default" in self.variables.get(whole[1], {}):
                return self.variables[whole[1]]["default"]
            return _VAR.sub(lambda m: str(self.variables.get(m[1], {}).get("default", m[0])), value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def load(directory: Path = TERRAFORM) -> Terraform:
    model = Terraform()
    for path in sorted(directory.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        with path.open() as f:
            parsed = unquote(hcl2.load(f))
        relative = str(path.relative_to(directory))
        model.files[relative] = parsed
        if path.parent != directory:
            continue  # modules are read through their own files
        for block in parsed.get("variable", []):
            model.variables.update(block)
        for block in parsed.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    model.resources.append((rtype, name, body))
        for block in parsed.get("module", []):
            model.modules.update(block)
    return model


def variables_of(parsed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in parsed.get("variable", []):
        found.update(block)
    return found
