"""The package's shape: each stage imports only the stages its docstring allows, the report never touches torch,
and no module grows past 400 lines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "hw2sep"
BASE = {"names", "errors", "SAMPLE_RATE", "STEMS", "TARGETS", "__version__"}  # the package face every stage may use
ALLOWED = {  # stage -> the stages it may import (besides itself and BASE)
    "common": set(),
    "dsp": {"common"},
    "data": {"common"},
    "models": {"dsp", "common"},
    "vocoder": {"dsp", "models", "common"},
    "separation": {"dsp", "models", "vocoder", "common"},
    "training": {"data", "models", "separation", "dsp", "vocoder", "common"},
    "evaluation": {"separation", "models", "data", "dsp", "vocoder", "report.results", "common"},
    "experiments": {"training", "evaluation", "separation", "models", "data", "dsp", "vocoder", "report", "common"},
    "report": {"dsp.methods", "common.files", "common.checkpoint_json"},
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    """Every hw2sep module ``path`` imports, at any depth (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "hw2sep" else [f"hw2sep.{a.name}" for a in node.names]
            found |= {n for n in names if n.startswith("hw2sep")}
            found |= {f"{node.module}.{a.name}" for a in node.names if node.module.startswith("hw2sep.")}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(("hw2sep", "torch"))}
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            found.add("torch")
    return found


def _stage(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def _allowed(stage: str, target: str) -> bool:
    rest = target.removeprefix("hw2sep.").split(".")
    if rest[0] in BASE or rest[0] == stage:
        return True
    return any(".".join(rest[:len(a.split("."))]) == a for a in ALLOWED.get(stage, ()))


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_stages_import_only_what_their_docstring_allows(stage: str) -> None:
    wrong = {f"{p.relative_to(REPO)} imports {t}" for p in _modules() if _stage(p) == stage
             for t in _imports(p) if t.startswith("hw2sep") and not _allowed(stage, t)}
    assert not wrong, sorted(wrong)


def test_every_stage_documents_what_it_owns_and_may_import() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc, init


def test_the_report_never_imports_torch() -> None:
    for path in (PACKAGE / "report").glob("*.py"):
        assert "torch" not in _imports(path), path
    code = "import sys, hw2sep.report.build, hw2sep.report.optional; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_the_top_level_is_the_package_face() -> None:
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "__main__.py", "errors.py", "infer.py",
                                                            "names.py"]


def test_modules_stay_under_400_lines() -> None:
    long = {str(p.relative_to(REPO)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
