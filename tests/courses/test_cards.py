"""Learning cards: a batch is generated and downloaded once, each card registers or enrols once, guessing is limited."""
import csv
import io
from datetime import date, datetime, timezone

import openpyxl
import pytest
from sqlalchemy import select

from app.accounts.models import LearningCard, User
from app.courses.models import Enrollment
from app.extensions import db
from tests.classrooms.world import fast_hashing, flashes, page_csrf, signed_in  # noqa: F401


@pytest.fixture
def project(make_project, org_tree):
    return make_project("Card project", org=org_tree["county_a"], ends_on=date(2026, 6, 30))


@pytest.fixture
def admin(app, fast_hashing, make_user, org_tree):
    return signed_in(app, make_user("cardadmin", role="org_admin", org=org_tree["county_a"]))


def generate(client, token, project, count=3, file_format="csv"):
    return client.post(f"/admin/projects/{project.id}/cards",
                       data={"csrf_token": token, "count": str(count), "file_format": file_format})


def cards_from_csv(response) -> list[tuple[str, str]]:
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    return [(r[0], r[1]) for r in rows[1:]]


def register(client, number, pin, username, **extra):
    token = page_csrf(client, "/register")
    data = {"csrf_token": token, "card_number": number, "pin": pin, "username": username, "real_name": "Card User",
            "password": "Card-pass-12", "confirm": "Card-pass-12"}
    data.update(extra)
    return client.post("/register", data=data)


def test_generate_downloads_numbers_and_pins_once(app, admin, project, clock):
    client, token = admin
    response = generate(client, token, project, count=3)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    issued = cards_from_csv(response)
    assert len(issued) == 3 and len({n for n, _p in issued}) == 3
    stored = {c.number: c for c in db.session.execute(select(LearningCard)).scalars()}
    for number, pin in issued:
        assert number.startswith(f"{project.id:04d}") and len(pin) == 8
        assert pin not in stored[number].pin_hash and stored[number].pin_hash.startswith("$argon2")
    page = client.get(f"/admin/projects/{project.id}/cards").get_data(as_text=True)
    assert 'data-testid="card-batch"' in page
    assert all(pin not in page for _n, pin in issued)  # never shown again

    xlsx = generate(client, token, project, count=2, file_format="xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).worksheets[0]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 2 and all(len(r[1]) == 8 for r in rows)
    assert len(db.session.execute(select(LearningCard)).scalars().all()) == 5


@pytest.mark.parametrize("count", ["0", "5001", "many", "１０", "١٢"])
def test_bad_count_generates_nothing(admin, project, count):
    client, token = admin
    response = client.post(f"/admin/projects/{project.id}/cards", data={"csrf_token": token, "count": count, "file_format": "csv"})
    assert response.status_code == 400
    assert db.session.execute(select(LearningCard)).first() is None


def test_register_with_a_card_then_reuse_is_refused(app, admin, project, clock):
    client, token = admin
    (number, pin), = cards_from_csv(generate(client, token, project, count=1))
    teacher = app.test_client()
    response = register(teacher, number, pin, "cardteacher")
    assert response.status_code == 302, flashes(response)
    user = db.session.execute(select(User).where(User.username == "cardteacher")).scalar_one()
    assert db.session.execute(select(Enrollment).where(Enrollment.user_id == user.id,
                                                       Enrollment.project_id == project.id)).scalar_one().source == "card"
    card = db.session.execute(select(LearningCard).where(LearningCard.number == number)).scalar_one()
    assert card.used_by_id == user.id and card.used_at is not None

    again = register(app.test_client(), number, pin, "secondteacher")
    assert again.status_code == 409
    assert "already been used" in flashes(again)
    assert db.session.execute(select(User).where(User.username == "secondteacher")).first() is None
    listing = client.get(f"/admin/projects/{project.id}/cards").get_data(as_text=True)
    assert "<td>1</td><td>1</td><td>0</td><td>0</td>" in listing  # cards, used, unused, withdrawn


def test_wrong_pin_refused_then_rate_limited(app, admin, project, clock):
    client, token = admin
    (number, pin), = cards_from_csv(generate(client, token, project, count=1))
    guesser = app.test_client()
    wrong = "22222222" if pin != "22222222" else "33333333"
    limit = int(app.config["CARD_FAILURES_PER_ADDRESS"].split()[0])
    for i in range(limit):
        response = register(guesser, number, wrong, f"guess{i}")
        assert response.status_code == 400 and "number or PIN is wrong" in flashes(response)
    blocked = register(guesser, number, pin, "finally")
    assert blocked.status_code == 429
    assert db.session.execute(select(User).where(User.username == "finally")).first() is None
    assert db.session.execute(select(LearningCard.used_at)).scalar_one() is None


def test_card_of_an_ended_project_is_refused(app, admin, project, clock):
    client, token = admin
    (number, pin), = cards_from_csv(generate(client, token, project, count=1))
    clock.set(datetime(2026, 7, 1, 2, 0, tzinfo=timezone.utc))
    response = register(app.test_client(), number, pin, "toolate")
    assert response.status_code == 409 and "has ended" in flashes(response)
    assert db.session.execute(select(User).where(User.username == "toolate")).first() is None
    # ...and an ended project issues no more cards.
    assert generate(client, token, project, count=1).status_code == 409


def test_withdrawn_batch_is_refused_and_used_cards_stay_used(app, admin, project, clock):
    client, token = admin
    (first, first_pin), (second, second_pin) = cards_from_csv(generate(client, token, project, count=2))
    assert register(app.test_client(), first, first_pin, "early").status_code == 302
    batch = db.session.execute(select(LearningCard.batch)).scalars().first()
    response = client.post(f"/admin/projects/{project.id}/cards/{batch}/revoke", data={"csrf_token": token},
                           follow_redirects=True)
    assert "1 unused card of batch" in flashes(response)
    late = register(app.test_client(), second, second_pin, "late")
    assert late.status_code == 409 and "withdrawn" in flashes(late)
    used = db.session.execute(select(LearningCard).where(LearningCard.number == first)).scalar_one()
    assert used.used_at is not None and not used.is_revoked
    assert client.post(f"/admin/projects/{project.id}/cards/NOPE/revoke", data={"csrf_token": token}).status_code == 404


def test_signed_in_teacher_redeems_a_card(app, admin, project, make_user, org_tree, clock):
    client, token = admin
    (number, pin), = cards_from_csv(generate(client, token, project, count=1))
    teacher = make_user("redeemer", org=org_tree["school_a1"])
    teacher_client, teacher_token = signed_in(app, teacher)
    response = teacher_client.post("/cards/redeem", data={"csrf_token": teacher_token, "card_number": number, "pin": pin})
    assert response.status_code == 302
    assert db.session.execute(select(Enrollment).where(Enrollment.user_id == teacher.id)).scalar_one().source == "card"
    again = teacher_client.post("/cards/redeem", data={"csrf_token": teacher_token, "card_number": number, "pin": pin})
    assert again.status_code == 409


def test_a_card_form_with_missing_fields_answers_400_and_changes_nothing(app, admin, project, make_user, org_tree, clock):
    client, token = admin
    (number, pin), = cards_from_csv(generate(client, token, project, count=1))
    teacher = make_user("half_typed", org=org_tree["school_a1"])
    teacher_client, teacher_token = signed_in(app, teacher)
    assert teacher_client.post("/cards/redeem", data={"csrf_token": teacher_token, "card_number": number}).status_code == 400
    assert register(app.test_client(), number, pin, "newcomer", confirm="something-else").status_code == 400
    assert db.session.execute(select(Enrollment).where(Enrollment.project_id == project.id)).first() is None
    assert teacher_client.get("/cards/redeem").status_code == 200


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("phone", ["1３８００００００٠٢", "1380000000٢"])
def test_register_refuses_a_phone_with_non_ascii_digits(app, admin, project, clock, phone):
    client, token = admin
    (number, pin), = cards_from_csv(generate(client, token, project, count=1))
    response = register(app.test_client(), number, pin, "widephone", phone=phone)
    assert response.status_code == 400 and "请输入 11 位手机号。" in response.get_data(as_text=True)  # the form again
    assert db.session.execute(select(User).where(User.username == "widephone")).first() is None
    assert db.session.execute(select(LearningCard).where(LearningCard.number == number)).scalar_one().used_by_id is None
