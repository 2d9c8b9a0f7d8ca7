"""Every URL rule of the app is either covered by a permission matrix test or declared public."""
import importlib
import pkgutil
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import tests

#: endpoints anyone may call (they check their own input, not a role)
PUBLIC = {
    "static",
    "health.healthz",
    "health.readyz",
    "site.favicon",
    "accounts.login",
    "accounts.logout",
    "accounts.set_language",
    "courses.register_with_card",
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


# ---------------------------------------------------------------- security headers on every route
#: a sample for each URL argument that is not an id (ids are 1: the first row of each table below)
SAMPLE_ARGUMENTS = {"fmt": "csv", "filename": "css/app.css", "key": "assets/ab/abcdef0123456789/720p.mp4"}
#: query arguments a page needs to render
SAMPLE_QUERIES = {"media.projector": {"project_id": 1}}
_SCRIPT_SRC = re.compile(r"(?:^|;)\s*script-src ([^;]*)")


class _PageTags(HTMLParser):
    """The <script> tags and the on*= attributes of a page."""

    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script":
            self.scripts.append(names)
        self.handlers += [f"<{tag} {name}=...>" for name in names if name.startswith("on")]


def every_request(app):
    """(method, path) of every route and method of the app, sign-out last."""
    adapter = app.url_map.bind("localhost")
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint == "accounts.logout", r.rule))
    for rule in rules:
        values = {name: SAMPLE_ARGUMENTS.get(name, 1) for name in rule.arguments}
        values.update(SAMPLE_QUERIES.get(rule.endpoint, {}))
        for method in sorted(rule.methods - {"HEAD"}):
            yield method, adapter.build(rule.endpoint, values, method=method)


def _directives(policy: str) -> dict[str, list[str]]:
    return {parts[0]: parts[1:] for parts in (d.split() for d in policy.split(";")) if parts}


def _header_problems(method: str, path: str, response) -> list[str]:
    where = f"{method} {path} ({response.status_code} {response.mimetype})"
    headers = response.headers
    problems = [f"{where}: {name} is {headers.get(name)!r}, not {value!r}"
                for name, value in (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))
                if headers.get(name) != value]
    policy = _directives(headers.get("Content-Security-Policy", ""))
    if "Strict-Transport-Security" in headers:
        problems.append(f"{where}: HSTS outside production")
    if response.mimetype != "text/html":
        if headers.get("X-Frame-Options") not in ("DENY", "SAMEORIGIN") or not policy.get("frame-ancestors"):
            problems.append(f"{where}: not protected from framing: {dict(headers)}")
        return problems
    if headers.get("X-Frame-Options") != "DENY":
        problems.append(f"{where}: X-Frame-Options is {headers.get('X-Frame-Options')!r}")
    expected = {"default-src": ["'self'"], "object-src": ["'none'"], "base-uri": ["'self'"],
                "form-action": ["'self'"], "frame-ancestors": ["'none'"], "connect-src": ["'self'"]}
    problems += [f"{where}: {name} is {policy.get(name)} in {headers.get('Content-Security-Policy')!r}"
                 for name, value in expected.items() if policy.get(name) != value]
    scripts = policy.get("script-src", [])
    nonces = [s[len("'nonce-"):-1] for s in scripts if s.startswith("'nonce-")]
    if len(nonces) != 1 or "'unsafe-inline'" in scripts or "'unsafe-eval'" in scripts:
        return problems + [f"{where}: script-src is {scripts}"]
    page = _PageTags()
    page.feed(response.get_data(as_text=True))
    # a JSON data block is never run: it needs no nonce (and may not hold a src)
    problems += [f"{where}: <script {tag}> without the page's nonce" for tag in page.scripts
                 if tag.get("nonce") != nonces[0] and (tag.get("type") != "application/json" or "src" in tag)]
    problems += [f"{where}: inline handler {handler}" for handler in page.handlers]
    return problems


@pytest.fixture
def small_world(app, org_tree, make_user, make_project, make_course, make_class, enroll):
    """An admin (id 1), an enrolled learner and one of each object, so that id 1 finds a row in most tables."""
    admin = make_user("admin", role="site_admin")
    project = make_project()
    make_course(project, durations=(600,))
    cls = make_class(project, org_tree["school_a1"])
    learner = make_user("learner", role="learner", org=org_tree["school_a1"], cls=cls)
    enroll(learner, project)
    return {"admin": admin, "learner": learner}


def test_every_answer_of_every_route_carries_the_security_headers(app, small_world, login):
    clients = {"anonymous": app.test_client(), **{who: login(app.test_client(), user) for who, user in small_world.items()}}
    problems, nonces, pages = [], [], 0
    for who, client in clients.items():
        for method, path in every_request(app):
            response = client.open(path, method=method)
            problems += [f"[{who}] {p}" for p in _header_problems(method, path, response)]
            if response.mimetype == "text/html":
                pages += 1
                nonces.append(_SCRIPT_SRC.search(response.headers["Content-Security-Policy"]).group(1))
    assert not problems, "\n".join(problems)
    assert pages > 40, "the walk should render most pages"
    assert len(set(nonces)) == len(nonces), "a script nonce was used twice"
