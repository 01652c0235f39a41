"""terraform/ as python-hcl2 reads it, with literal strings unquoted and `var.x` references
resolved to their defaults, so that the checks can compare it with the code. A resource with
`for_each = local.<map>` is read as one body per key, and a module argument written as
`local.<name>` or `merge(...)` of those and object literals as the map it makes."""

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
_LOCAL = re.compile(r"\$\{local\.([A-Za-z0-9_]+)\}")
_MERGE = re.compile(r"\$\{merge\((.*)\)\}", re.DOTALL)


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
    locals: dict[str, Any] = field(default_factory=dict)  # root module only
    resources: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Every resource, data and module block of every file, as written (no for_each expanded):
    # (relative path, "resource" | "data" | "module", type, name, body); a module's type is "".
    blocks: list[tuple[str, str, str, str, dict[str, Any]]] = field(default_factory=list)

    def block(self, kind: str, rtype: str, name: str, path: str | None = None) -> dict[str, Any]:
        """The one block so named (in `path` when given; a module's own files are under
        modules/)."""
        found = [
            body
            for p, k, t, n, body in self.blocks
            if (k, t, n) == (kind, rtype, name) and (path is None or p == path)
        ]
        assert len(found) == 1, f"{kind} {rtype} {name}: {len(found)} blocks"
        return found[0]

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


def substitute(value: Any, names: dict[str, Any]) -> Any:
    """`${each.key}`, `${fields.value}`... (a whole string) replaced by its value in `names`."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return names.get(value[2:-1], value)
    if isinstance(value, dict):
        return {k: substitute(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, names) for v in value]
    return value


def expand_dynamic(body: dict[str, Any]) -> dict[str, Any]:
    """The body's own `dynamic` blocks whose for_each is a literal list, as the blocks they
    generate. python-hcl2 does not keep where a dynamic block stood among the static blocks of
    its type: the generated ones come first. Others (for_each an expression) stay as they are."""
    expanded = {k: v for k, v in body.items() if k != "dynamic"}
    kept = []
    for dynamic in body.get("dynamic", []):
        for label, spec in dynamic.items():
            items = spec.get("for_each")
            if not isinstance(items, list) or "iterator" in spec:
                kept.append({label: spec})
                continue
            content = spec.get("content", [{}])[0]
            generated = [
                substitute(content, {f"{label}.key": i, f"{label}.value": item})
                for i, item in enumerate(items)
            ]
            expanded[label] = generated + list(expanded.get(label, []))
    if kept:
        expanded["dynamic"] = kept
    return expanded


def instances(
    name: str, body: dict[str, Any], local_values: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A resource's bodies: one per key of `for_each = local.<map>` (with `each.value.<name>`
    for a map of objects), else the body itself."""
    found = _LOCAL.fullmatch(body["for_each"]) if isinstance(body.get("for_each"), str) else None
    each = local_values.get(found[1]) if found else None
    if not isinstance(each, dict):
        yield name, body
        return
    for key, value in each.items():
        instance = {k: v for k, v in body.items() if k != "for_each"}
        attributes = value.items() if isinstance(value, dict) else ()
        fields = {f"each.value.{k}": v for k, v in attributes}  # `${each.value.collection}`
        yield (
            f'{name}["{key}"]',
            expand_dynamic(substitute(instance, {"each.key": key, "each.value": value, **fields})),
        )


def evaluate(value: Any, local_values: dict[str, Any]) -> Any:
    """`${local.x}` as x's value, and `${merge(a, b, ...)}` of such references and object
    literals as the merged map; anything else as it is."""
    if not isinstance(value, str):
        return value
    reference = _LOCAL.fullmatch(value)
    if reference and reference[1] in local_values:
        return local_values[reference[1]]
    merged = _MERGE.fullmatch(value)
    if merged:
        args = unquote(hcl2.loads(f"args = [{merged[1]}]\n"))["args"]
        parts = [evaluate(arg, local_values) for arg in args]
        if all(isinstance(part, dict) for part in parts):
            return {k: v for part in parts for k, v in part.items()}
    return value


def load(directory: Path = TERRAFORM) -> Terraform:
    model = Terraform()
    root: list[dict[str, Any]] = []
    for path in sorted(directory.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        with path.open() as f:
            parsed = unquote(hcl2.load(f))
        relative = str(path.relative_to(directory))
        model.files[relative] = parsed
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        model.blocks.append((relative, kind, rtype, name, body))
        for block in parsed.get("module", []):
            for name, body in block.items():
                model.blocks.append((relative, "module", "", name, body))
        if path.parent != directory:
            continue  # modules are read through their own files
        root.append(parsed)
        for block in parsed.get("variable", []):
            model.variables.update(block)
        for block in parsed.get("locals", []):
            model.locals.update({k: v for k, v in block.items() if not k.startswith("__")})
    for parsed in root:  # locals may be declared in any file
        for block in parsed.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    for address, instance in instances(name, body, model.locals):
                        model.resources.append((rtype, address, instance))
        for block in parsed.get("module", []):
            for name, body in block.items():
                model.modules[name] = {k: evaluate(v, model.locals) for k, v in body.items()}
    return model


def variables_of(parsed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in parsed.get("variable", []):
        found.update(block)
    return found
