"""Every browser test fails on a Content-Security-Policy violation in any of its pages or frames.

Wait with ``page.wait_for_function("() => ...")``, a function: Playwright evaluates a bare expression
again on every poll, which the pages' CSP (no 'unsafe-eval') refuses.
"""
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import DEFAULT_PASSWORD

# Runs in every frame before the page's own scripts (an init script is not subject to the page's CSP).
_REPORT_VIOLATIONS = """
window.__xsCspSeen = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__xsCspViolation({directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
                           line: e.lineNumber, sample: e.sample, page: document.location.href});
  window.__xsCspSeen.push(e.violatedDirective);
});
"""


@pytest.fixture
def csp_violations(context) -> list:
    """The CSP violations seen in this test's browser context: securitypolicyviolation events and console reports."""
    seen: list = []
    context.expose_binding("__xsCspViolation", lambda source, violation: seen.append(violation))
    context.add_init_script(_REPORT_VIOLATIONS)

    def on_console(message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.append({"console": message.text, "page": message.page.url if message.page else None})

    context.on("console", on_console)
    return seen


@pytest.fixture
def page(context, csp_violations):
    """pytest-playwright's page, in a context that reports CSP violations; none may happen."""
    page = context.new_page()
    yield page
    page.close()
    assert not csp_violations, f"Content-Security-Policy violations: {csp_violations}"


def sign_in(page, live_server, username: str) -> None:
    """Sign in through the login form."""
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("[data-testid=login-submit]")
    expect(page).not_to_have_url(re.compile(r"/login"))
