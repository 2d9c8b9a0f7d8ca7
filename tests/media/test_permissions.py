"""can_manage_media as a table: course staff and admins in scope may; everyone else may not."""
import pytest

from app.extensions import db
from app.media.permissions import can_attach_media, can_manage_media

TABLE = [
    # role, org key (scope of the role), course owner org key, expected
    ("site_admin", None, "county_a", True),
    ("org_admin", "county_a", "county_a", True),
    ("org_admin", "province", "county_a", True),
    ("org_admin", "city", "county_b", True),
    ("org_admin", "county_b", "county_a", False),
    ("org_admin", "school_a1", "county_a", False),  # below the owner: may see the course, not its media
    ("expert", "county_a", "county_a", True),
    ("expert", "province", "school_a1", True),
    ("expert", "county_b", "county_a", False),
    ("tutor", None, "county_a", False),
    ("class_manager", None, "county_a", False),
    ("learner", None, "county_a", False),
    (None, None, "county_a", False),
]


@pytest.mark.parametrize("role,scope,owner,expected", TABLE)
def test_can_manage_media(make_user, make_course, make_project, make_class, org_tree, role, scope, owner, expected):
    course = make_course(None, org=org_tree[owner])
    if role in ("tutor", "class_manager", "learner"):
        cls = make_class(make_project(), org_tree["school_a1"])
        user = make_user(role=role, cls=cls, school=org_tree["school_a1"])
    else:
        user = make_user(role=role, org=org_tree[scope] if scope else org_tree["school_a1"])
    assert can_manage_media(user, course) is expected


def test_inactive_and_anonymous_users_manage_nothing(make_user, make_course, org_tree):
    from flask_login import AnonymousUserMixin

    course = make_course(None, org=org_tree["county_a"])
    admin = make_user(role="org_admin", org=org_tree["county_a"])
    assert can_manage_media(admin, course)
    admin.is_active_flag = False
    db.session.commit()
    assert not can_manage_media(admin, course)
    assert not can_manage_media(AnonymousUserMixin(), course)
    assert not can_manage_media(admin, None)


def test_attach_only_to_a_lesson_of_the_same_course(make_user, make_course, org_tree):
    course = make_course(None, title="A", org=org_tree["county_a"])
    other = make_course(None, title="B", org=org_tree["county_a"])
    admin = make_user(role="org_admin", org=org_tree["county_a"])
    assert can_attach_media(admin, course.modules[0].lessons[0], course)
    assert not can_attach_media(admin, other.modules[0].lessons[0], course)
    assert can_attach_media(admin, None, course)
