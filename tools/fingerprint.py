"""What a notebook's stored outputs were computed from, so that stale outputs are caught on any machine.

``python3 course.py regenerate`` stores, in each notebook's metadata (``course.computed_from``), a short
hash of everything its outputs depend on:

* its code cells (markdown does not change outputs);
* every lessonlib module it imports, directly or through other lessonlib modules (found by reading the
  import statements, so nothing is executed);
* every file in data/ whose name appears in those modules or cells.

tests/test_portability.py recomputes the hashes and fails, naming what changed, when they no longer match:
a code cell edited, or a lessonlib module changed, without regenerating. Line endings are normalised, so
a Windows checkout hashes the same.

    python3 tools/fingerprint.py            list the notebooks whose outputs are stale
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "lessonlib"
KEY = "course"


def _hash(data: bytes) -> str:
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()[:16]


def _source(cell: Any) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _python(source: str) -> str:
    """Cell source without IPython magics and shell escapes, so ast can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _module_path(name: str, root: Path) -> Path | None:
    base = root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def _imported_names(tree: ast.AST, package: str | None) -> set[str]:
    """Absolute names of the lessonlib modules a parsed file imports (and the names it imports from them)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and package:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return {n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")}


def lessonlib_files(code: str, root: Path = ROOT) -> set[Path]:
    """Every lessonlib source file that ``code`` imports, directly or indirectly, with its packages' __init__."""
    todo, seen = list(_imported_names(ast.parse(code), None)), set()
    files: set[Path] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:k]) for k in range(1, len(parts)))  # parent packages run their __init__
        path = _module_path(name, root)
        if path is None or path in files:
            continue
        files.add(path)
        package = name if path.name == "__init__.py" else ".".join(parts[:-1])
        todo.extend(_imported_names(ast.parse(path.read_text(encoding="utf-8")), package))
    return files


def computed_from(nb: Any, root: Path = ROOT) -> dict[str, str]:
    """{what: hash} for everything the notebook's outputs depend on."""
    code = "\n\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "code")
    files = lessonlib_files(_python(code), root)
    texts = code + "".join(p.read_text(encoding="utf-8") for p in files)
    data = [p for p in sorted((root / "data").glob("*")) if p.name != "README.md" and p.name in texts]
    found = {"code cells": _hash(code.encode("utf-8"))}
    for path in sorted(files) + data:
        found[path.relative_to(root).as_posix()] = _hash(path.read_bytes())
    return found


def stamp(nb: Any, root: Path = ROOT) -> None:
    """Record what the notebook's outputs were computed from in its metadata (regenerate calls this)."""
    nb["metadata"].setdefault(KEY, {})["computed_from"] = computed_from(nb, root)


def stale(nb: Any, root: Path = ROOT) -> list[str]:
    """What changed since the outputs were computed (empty when they are current)."""
    stored = nb["metadata"].get(KEY, {}).get("computed_from")
    if not stored:
        return ["the notebook has no record of what its outputs were computed from"]
    now = computed_from(nb, root)
    changed = [k for k in now if k in stored and now[k] != stored[k]]
    added = [k for k in now if k not in stored]
    dropped = [k for k in stored if k not in now]
    return (
        [f"{k} changed" for k in changed] + [f"{k} is new" for k in added] + [f"{k} is no longer used" for k in dropped]
    )


def main() -> int:
    bad = 0
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        problems = stale(json.loads(path.read_text(encoding="utf-8")))
        if problems:
            bad += 1
            print(f"{path.name}: " + "; ".join(problems))
    print("all notebook outputs are current" if not bad else "run: python3 course.py regenerate")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
