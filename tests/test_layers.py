"""A lower layer never imports a higher one: accounts imports no feature built on it, common imports no feature.

Every module is parsed with `ast`, so imports inside functions count as much as those at the top.
"""
import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
#: the features built on accounts (and the pages that combine them)
ABOVE_ACCOUNTS = ("app.courses", "app.classrooms", "app.tracking", "app.media", "app.admin")
FEATURES = ("app.accounts",) + ABOVE_ACCOUNTS
#: (module, imported name) still allowed: the scope library of app/common reads the org tree and roles of accounts
#: (issue 15 item 4, "one scope library", decides where it lives)
COMMON_EXCEPTIONS = {("app/common/permissions.py", "app.accounts.models")}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Return (line, module) of every import in the file, wherever it stands; names imported from a package count."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import stays inside its own package
                continue
            found.append((node.lineno, node.module or ""))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def is_within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def violations(package: Path, forbidden: tuple[str, ...], allowed: set[tuple[str, str]] = frozenset()) -> list[str]:
    """Return "app/<package>/<file>:<line> imports <module>" for every import of a forbidden package."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package.parent.parent).as_posix()
        for line, module in imported_modules(path):
            if is_within(module, forbidden) and not any(where == w and is_within(module, (m,)) for w, m in allowed):
                problems.append(f"{where}:{line} imports {module}")
    return sorted(set(problems))


def test_accounts_imports_no_feature_built_on_it():
    problems = violations(APP / "accounts", ABOVE_ACCOUNTS)
    assert not problems, "\n".join(problems)


def test_common_imports_no_feature():
    problems = violations(APP / "common", FEATURES, COMMON_EXCEPTIONS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source,expected", [
    ("from app.courses.models import Project", ["app.courses.models", "app.courses.models.Project"]),
    ("def f():\n    import app.classrooms.service as s\n", ["app.classrooms.service"]),
    ("from app import tracking", ["app", "app.tracking"]),
    ("from . import rules", []),
])
def test_every_kind_of_import_is_seen(tmp_path, source, expected):
    module = tmp_path / "m.py"
    module.write_text(source, encoding="utf-8")
    assert [name for _line, name in imported_modules(module)] == expected


def test_a_forbidden_import_inside_a_function_is_reported(tmp_path):
    package = tmp_path / "app" / "low"
    package.mkdir(parents=True)
    (package / "views.py").write_text("import app.accounts.auth\n\n\ndef page():\n    from app.media.models import MediaAsset\n",
                                      encoding="utf-8")
    assert violations(package, ABOVE_ACCOUNTS) == ["app/low/views.py:5 imports app.media.models",
                                                   "app/low/views.py:5 imports app.media.models.MediaAsset"]
    assert violations(package, FEATURES, {("app/low/views.py", "app.media")}) == ["app/low/views.py:1 imports app.accounts.auth"]
