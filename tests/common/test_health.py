"""Liveness and readiness."""
import pytest
from sqlalchemy import event


def test_healthz_answers_without_the_database(app, client):
    statements = []

    def count(*_args):
        statements.append(1)

    from app.extensions import db

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get("/healthz")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok\n"
    assert statements == []


def test_readyz_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == "ok"


@pytest.mark.config(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
def test_readyz_503_when_the_database_is_down(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"].startswith("error")


@pytest.mark.config(REDIS_URL="redis://127.0.0.1:1/0")
def test_readyz_503_when_redis_is_down(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("error")
