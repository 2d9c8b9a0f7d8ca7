"""Every rendered forum field, filled with an XSS corpus through the forms and the API, is inert in the pages."""
import re

from tests.forums.world import call_api, fast_hashing, forum_world  # noqa: F401
from tests.forums.xss import PAYLOADS, html_problems


def _form(w, persona, path, data):
    response = w.pages[persona].post(path, data={"csrf_token": w.csrf[persona], **data})
    assert response.status_code == 302, (path, response.status_code, response.get_data(as_text=True)[:500])
    return response.headers["Location"]


def _pages_clean(w, persona, paths) -> list[str]:
    problems = []
    for path in paths:
        response = w.pages[persona].get(path)
        assert response.status_code == 200, (persona, path, response.status_code)
        problems += [f"{persona} {path}: {p}" for p in html_problems(response.get_data(as_text=True))]
    return problems


def test_corpus_size():
    assert len(PAYLOADS) >= 30


def test_xss_corpus_through_forms_and_api(forum_world):
    w = forum_world
    problems = []
    for i, payload in enumerate(PAYLOADS):
        title = payload[:120]
        # through the forms: the learner opens a topic, the tutor replies quoting it, the learner edits and reports
        location = _form(w, "learner", f"/boards/{w.boards['class_a']}", {"title": title, "body": payload})
        topic_id = int(re.search(r"/topics/(\d+)", location).group(1))
        topic = call_api(w, "learner", "GET", f"/api/v1/topics/{topic_id}").get_json()
        first_id = topic["posts"][0]["id"]
        location = _form(w, "tutor", f"/topics/{topic_id}/reply", {"body": payload, "quote_post_id": str(first_id)})
        reply_id = int(re.search(r"post-(\d+)", location).group(1))
        _form(w, "learner", f"/posts/{first_id}/edit", {"body": payload + " (2)"})
        _form(w, "learner", f"/posts/{reply_id}/report", {"reason": payload[:200]})
        # through the API: a course-board topic, a quoting reply, an edit, a report; a question on the Q&A board
        created = call_api(w, "learner2", "POST", f"/api/v1/boards/{w.boards['course_a']}/topics",
                           {"title": title, "body": payload})
        assert created.status_code == 201, created.get_json()
        api_topic, api_post = created.get_json()["id"], created.get_json()["post_id"]
        api_reply = call_api(w, "tutor2", "POST", f"/api/v1/topics/{api_topic}/posts",
                             {"body": payload, "quote_post_id": api_post})
        assert api_reply.status_code == 201, api_reply.get_json()
        assert call_api(w, "learner2", "PATCH", f"/api/v1/posts/{api_post}", {"body": payload + " (2)"}).status_code == 200
        assert call_api(w, "tutor", "POST", f"/api/v1/posts/{api_reply.get_json()['id']}/report",
                        {"reason": payload[:200]}).status_code == 201
        question = call_api(w, "learner", "POST", f"/api/v1/boards/{w.boards['qa_a']}/topics",
                            {"title": title, "body": payload})
        assert question.status_code == 201
        for tid in (topic_id, api_topic, question.get_json()["id"]):
            for post in call_api(w, "learner", "GET", f"/api/v1/topics/{tid}").get_json()["posts"]:
                problems += [f"API body_html of payload {i}: {p}" for p in html_problems(post["body_html"])]
        query = payload[:40]
        problems += _pages_clean(w, "learner", [
            f"/boards/{w.boards['class_a']}", f"/topics/{topic_id}", f"/topics/{topic_id}?quote={reply_id}",
            f"/topics/{api_topic}", f"/posts/{first_id}/edit", f"/posts/{reply_id}/report",
            f"/boards/{w.boards['class_a']}?q={query}", f"/projects/{w.ids['project_a']}/forums?q={query}",
            f"/boards/{w.boards['qa_a']}"])
        problems += _pages_clean(w, "tutor", [f"/boards/{w.boards['class_a']}", f"/topics/{topic_id}",
                                              f"/posts/{reply_id}/edit"])
        problems += _pages_clean(w, "tutor2", [f"/boards/{w.boards['course_a']}", f"/topics/{api_topic}"])
        problems += _pages_clean(w, "expert", ["/expert/questions", f"/topics/{question.get_json()['id']}"])
    assert not problems, "\n".join(problems[:50])


def test_the_checker_finds_what_it_looks_for():
    assert html_problems('<main><img src=x onerror="alert(1)"></main>')
    assert html_problems('<main><a href="&#106;avascript:alert(1)">x</a></main>')
    assert html_problems("<main><script>alert(1)</script></main>")
    assert html_problems('<main><svg></svg></main>')
    assert not html_problems('<main><a href="https://example.org" rel="nofollow noopener">ok</a></main>')
