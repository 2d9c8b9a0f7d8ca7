"""The Content-Security-Policy in a real Chromium: injected scripts do not run, and the moved handlers still work."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.accounts.models import User
from app.extensions import db
from tests.browser.conftest import sign_in
from tests.test_route_matrix import every_request, small_world  # noqa: F401  (small_world: a fixture)

pytestmark = pytest.mark.browser


def test_injected_inline_script_and_handler_do_not_run_and_are_reported(live_server, context, csp_violations):
    page = context.new_page()
    page.goto(live_server.url + "/login")
    page.evaluate("""() => {
      const s = document.createElement('script');
      s.textContent = 'window.xsInjected = "script";';
      document.body.append(s);
      const b = document.createElement('button');
      b.setAttribute('onclick', 'window.xsInjected = "handler";');
      document.body.append(b);
      b.click();
    }""")
    page.wait_for_function("() => window.__xsCspSeen.length >= 2")
    assert page.evaluate("window.xsInjected === undefined")
    directives = {v.get("directive") for v in csp_violations if "directive" in v}
    assert {"script-src-elem", "script-src-attr"} <= directives, csp_violations
    page.close()


@pytest.mark.parametrize("answer", ["dismiss", "accept"])
def test_a_confirmed_action_asks_first(live_server, page, make_user, org_tree, answer):
    make_user("admin1", role="site_admin")
    target = make_user("teacher1", org=org_tree["school_a1"])
    sign_in(page, live_server, "admin1")
    page.goto(f"{live_server.url}/admin/users/{target.id}")
    questions = []

    def on_dialog(dialog):
        questions.append(dialog.message)
        dialog.accept() if answer == "accept" else dialog.dismiss()

    page.on("dialog", on_dialog)
    # Runs after the page's own submit listener (the event bubbles from document to window).
    page.evaluate("window.addEventListener('submit', e => { window.xsSubmitPrevented = e.defaultPrevented; })")
    page.click("[data-testid=deactivate]")
    if answer == "accept":
        expect(page.locator("[data-testid=activate]")).to_be_visible()
    else:
        assert page.evaluate("window.xsSubmitPrevented") is True
        expect(page.locator("[data-testid=deactivate]")).to_be_visible()
    assert questions == ["Deactivate this user and sign them out everywhere?"]
    db.session.rollback()
    assert db.session.get(User, target.id).is_active is (answer == "dismiss")


def _one_page_pdf() -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_the_projector_frames_a_document_lesson(app, live_server, page, org_tree, make_project, make_course,
                                                make_class, make_user):
    project = make_project("Group reading")
    lesson = make_course(project, "Reader", durations=(60,), kind="document").modules[0].lessons[0]
    cls = make_class(project, org_tree["school_a1"], learning_center=org_tree["center_a"])
    make_user("tutor1", role="tutor", cls=cls)
    key = "docs/ab/0123456789abcdef/handout.pdf"
    path = Path(app.config["MEDIA_ROOT"]) / key
    path.parent.mkdir(parents=True)
    path.write_bytes(_one_page_pdf())
    lesson.media_key = key
    db.session.commit()

    sign_in(page, live_server, "tutor1")
    with page.expect_response(lambda r: "/media/s/" in r.url) as answer:
        page.goto(f"{live_server.url}/lessons/{lesson.id}/projector?project_id={project.id}")
    assert answer.value.status == 200
    frame = page.locator("iframe[data-pj=document]")
    expect(frame).to_be_visible()
    content = frame.element_handle().content_frame()
    content.wait_for_load_state()
    assert "/media/s/" + key in content.url  # a refused frame would show chrome-error://


def test_every_page_loads_without_a_csp_violation(app, live_server, page, small_world, login):
    """Each HTML page of the route walk (tests/test_route_matrix.py), as the admin and as the learner."""
    shown = set()
    for who, user in small_world.items():
        client = login(app.test_client(), user)
        pages = [path for method, path in every_request(app) if method == "GET"
                 and (rv := client.get(path)).status_code == 200 and rv.mimetype == "text/html"]
        page.context.clear_cookies()
        sign_in(page, live_server, user.username)
        for path in pages:
            assert page.goto(live_server.url + path).ok, path
            shown.add(path)
    # the pages with scripts among them: the player, the projector, the upload page, a confirm button
    assert {"/projects/1/lessons/1/play", "/lessons/1/projector?project_id=1", "/courses/1/media",
            "/admin/users/1"} <= shown, sorted(shown)
    assert len(shown) > 30
