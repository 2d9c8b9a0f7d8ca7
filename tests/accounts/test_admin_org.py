"""Org unit administration: the subtree, the kinds ladder, codes, moving within the scope."""
import re

import pytest
from sqlalchemy import select

from app.accounts.models import OrgUnit
from app.extensions import db
from tests.classrooms.world import fast_hashing, flashes, signed_in  # noqa: F401


@pytest.fixture
def admins(app, fast_hashing, make_user, org_tree):
    return {
        "site": signed_in(app, make_user("site", role="site_admin")),
        "province": signed_in(app, make_user("prov", role="org_admin", org=org_tree["province"])),
        "county_a": signed_in(app, make_user("ca", role="org_admin", org=org_tree["county_a"])),
    }


def unit(name: str) -> OrgUnit | None:
    return db.session.execute(select(OrgUnit).where(OrgUnit.name == name)).scalar_one_or_none()


def create(client, token, parent, name, kind, code=""):
    return client.post("/admin/org-units/new", data={"csrf_token": token, "parent_id": parent.id if parent else "",
                                                     "name": name, "kind": kind, "code": code})


def test_tree_shows_only_the_subtree_in_order(admins, org_tree):
    client, _ = admins["county_a"]
    html = client.get("/admin/org-units").get_data(as_text=True)
    names = re.findall(r"<strong>([^<]+)</strong>", html)
    assert names == ["County A", "Center A", "School A1", "School A2"]
    assert "County B" not in html and "Province" not in names


@pytest.mark.parametrize("parent, kind, ok", [
    ("county_a", "school", True), ("county_a", "learning_center", True), ("school_a1", "learning_center", True),
    ("county_a", "city", False), ("school_a1", "school", False), ("center_a", "learning_center", False),
])
def test_kinds_ladder(admins, org_tree, parent, kind, ok):
    client, token = admins["county_a"]
    response = create(client, token, org_tree[parent], "Newcomer", kind)
    assert response.status_code == (302 if ok else 400)
    assert (unit("Newcomer") is not None) == ok
    if ok:
        assert unit("Newcomer").path == org_tree[parent].path + f"{unit('Newcomer').id}/"


def test_roots_only_for_site_admins_and_never_outside_the_scope(admins, org_tree):
    client, token = admins["county_a"]
    assert create(client, token, None, "Rogue root", "province").status_code == 400
    assert create(client, token, org_tree["county_b"], "Rogue school", "school").status_code == 404
    assert unit("Rogue root") is None and unit("Rogue school") is None
    site, site_token = admins["site"]
    assert create(site, site_token, None, "Second province", "province").status_code == 302
    assert unit("Second province").path == f"/{unit('Second province').id}/"


def test_rename_and_codes(admins, org_tree):
    client, token = admins["county_a"]
    url = f"/admin/org-units/{org_tree['school_a2'].id}/edit"
    assert client.post(url, data={"csrf_token": token, "name": "第二小学", "code": "S-2"}).status_code == 302
    assert (unit("第二小学").code, unit("第二小学").id) == ("S-2", org_tree["school_a2"].id)
    taken = client.post(url, data={"csrf_token": token, "name": "第二小学", "code": "A1"})
    assert taken.status_code == 400 and "already used by School A1" in taken.get_data(as_text=True)
    assert unit("第二小学").code == "S-2"
    bad = client.post(url, data={"csrf_token": token, "name": "第二小学", "code": "有 空格"})
    assert bad.status_code == 400 and unit("第二小学").code == "S-2"
    cleared = client.post(url, data={"csrf_token": token, "name": "第二小学", "code": ""})
    assert cleared.status_code == 302 and unit("第二小学").code is None


def test_move_within_scope_rewrites_the_subtree(admins, org_tree, make_org, make_user):
    client, token = admins["province"]
    annex = make_org("Annex", "learning_center", org_tree["school_b1"])
    teacher = make_user("mover", org=org_tree["school_b1"])
    url = f"/admin/org-units/{org_tree['school_b1'].id}/edit"
    response = client.post(url, data={"csrf_token": token, "name": "School B1", "code": "B1",
                                      "parent_id": org_tree["county_a"].id}, follow_redirects=True)
    assert "was saved" in flashes(response)
    moved = unit("School B1")
    assert moved.parent_id == org_tree["county_a"].id
    assert moved.path == org_tree["county_a"].path + f"{moved.id}/"
    assert unit("Annex").path == moved.path + f"{annex.id}/"
    county_a, _ = admins["county_a"]
    assert county_a.get(f"/admin/users/{teacher.id}").status_code == 200  # now in county A's subtree
    # Into its own subtree, or under a learning center: refused, nothing moves.
    into_self = client.post(f"/admin/org-units/{org_tree['county_a'].id}/edit",
                            data={"csrf_token": token, "name": "County A", "parent_id": moved.id})
    assert into_self.status_code == 400 and unit("County A").parent_id == org_tree["city"].id


def test_county_admin_cannot_move_into_the_other_county(admins, org_tree):
    client, token = admins["county_a"]
    url = f"/admin/org-units/{org_tree['school_a2'].id}/edit"
    response = client.post(url, data={"csrf_token": token, "name": "School A2", "parent_id": org_tree["county_b"].id})
    assert response.status_code == 400
    assert unit("School A2").parent_id == org_tree["county_a"].id
    # Their own root cannot be moved at all.
    root = client.post(f"/admin/org-units/{org_tree['county_a'].id}/edit",
                       data={"csrf_token": token, "name": "County A", "parent_id": org_tree["county_b"].id})
    assert root.status_code == 400 and unit("County A").parent_id == org_tree["city"].id
    assert "only an administrator above you can move it" in root.get_data(as_text=True)
