"""Sign-in on the JSON API: Flask-Login's own guard answers with the JSON 401 envelope."""
from flask_login import login_required


def test_a_route_guarded_by_login_required_answers_401_json(app):
    app.add_url_rule("/api/v1/guarded-for-test", "guarded_for_test", login_required(lambda: "secret"))
    response = app.test_client().get("/api/v1/guarded-for-test")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_login_required_lets_a_bearer_token_through(app, make_user, api_token):
    from tests.conftest import bearer

    app.add_url_rule("/api/v1/guarded-for-test", "guarded_for_test", login_required(lambda: "secret"))
    token = api_token(make_user("tokenholder"))
    response = app.test_client().get("/api/v1/guarded-for-test", headers=bearer(token))
    assert response.status_code == 200 and response.get_data(as_text=True) == "secret"


def test_a_page_guarded_by_login_required_still_redirects_to_the_login_form(app):
    app.add_url_rule("/guarded-page-for-test", "guarded_page_for_test", login_required(lambda: "secret"))
    response = app.test_client().get("/guarded-page-for-test")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
