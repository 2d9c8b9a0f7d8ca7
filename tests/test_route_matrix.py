"""Every URL rule of the app is either covered by a permission matrix test or declared public."""
import importlib
import pkgutil
from pathlib import Path

import tests

#: endpoints anyone may call (they check their own input, not a role)
PUBLIC = {
    "static",
    "bootstrap.static",
    "health.healthz",
    "health.readyz",
    "accounts.login",
    "accounts.logout",
    "accounts.set_language",
    "accounts.register_with_card",
    "accounts_api.issue_token",
    "openapi.openapi_json",
    "openapi.docs_page",
}


def _matrix_endpoints() -> set[str]:
    covered: set[str] = set()
    root = Path(tests.__file__).parent
    for path in root.rglob("test_*.py"):
        module_name = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        module = importlib.import_module(module_name)
        covered |= set(getattr(module, "MATRIX_ENDPOINTS", ()))
    return covered


def test_every_route_is_in_a_matrix_or_public(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    covered = _matrix_endpoints()
    missing = sorted(endpoints - covered - PUBLIC)
    assert not missing, f"routes in no permission matrix and not declared public: {missing}"
    stale = sorted((covered | PUBLIC) - endpoints)
    assert not stale, f"matrix or public entries naming no route: {stale}"
