"""The homework world: one project of county A with two classes (A1 and A2) and a project of county B.

Personas: site admin, province admin, county A admin, county B admin, the tutor and class manager of
class A1, the tutor of class A2, a learner of A1, a learner of A2, an enrolled teacher in no class,
and an anonymous visitor.
"""
import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from app.extensions import db
from tests.classrooms.world import fast_hashing, page_csrf  # noqa: F401
from tests.conftest import Auth

PERSONAS = ("site", "province", "county_a", "county_b", "tutor", "manager", "tutor2", "learner", "learner2",
            "teacher", "anon")
DUE = datetime(2026, 3, 20, 16, 0, tzinfo=timezone.utc)


def make_zip(entries) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def docx_bytes(text: str = "作业") -> bytes:
    return make_zip([("[Content_Types].xml", "<?xml version='1.0'?><Types/>"),
                     ("word/document.xml", f"<w:document><w:t>{text}</w:t></w:document>")])


PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


@dataclass
class HW:
    ids: dict
    clients: dict = field(default_factory=dict)
    csrf: dict = field(default_factory=dict)

    def __getitem__(self, key):
        return self.ids[key]


def make_assignment(project, actor, *, course_id=None, class_id=None, **overrides):
    from app.homework import service

    fields = {"title": "第一次作业", "instructions": "写一篇**教学反思**。", "due_at": DUE, "late_until": None,
              "is_required": True, "kinds": ["documents", "images", "archives"], "max_mb": 1, "max_files": 3,
              "accepts_text": True, "accepts_files": True, "is_returnable": True}
    fields.update(overrides)
    assignment = service.do_create_assignment(project, actor, course_id=course_id, class_id=class_id, **fields)
    db.session.commit()
    return assignment


@pytest.fixture
def hw(app, clock, fast_hashing, org_tree, make_user, make_project, make_course, make_class, enroll):
    """The personas signed in (a client each), an assignment for every class of project A, and handed-in work."""
    from app.accounts.service import do_assign_role
    from app.homework import service

    t = org_tree
    project = make_project("ALPHA-PROJ", org=t["county_a"])
    project_b = make_project("BETA-PROJ", org=t["county_b"])
    course = make_course(project, "ALPHA-COURSE", org=t["county_a"])
    make_course(project_b, "BETA-COURSE", org=t["county_b"])
    class_a = make_class(project, t["school_a1"], "ALPHA-CLASS")
    class_a2 = make_class(project, t["school_a2"], "ALPHA-TWO")
    class_b = make_class(project_b, t["school_b1"], "BETA-CLASS")
    people = {
        "site": make_user("p_site", role="site_admin"),
        "province": make_user("p_province", role="org_admin", org=t["province"]),
        "county_a": make_user("p_county_a", role="org_admin", org=t["county_a"]),
        "county_b": make_user("p_county_b", role="org_admin", org=t["county_b"]),
        "tutor": make_user("p_tutor", role="tutor", cls=class_a, school=t["school_a1"]),
        "manager": make_user("p_manager", role="class_manager", cls=class_a, school=t["school_a1"]),
        "tutor2": make_user("p_tutor2", role="tutor", cls=class_a2, school=t["school_a2"]),
        "learner": make_user("p_learner", school=t["school_a1"], real_name="张老师", teacher_no="T-001"),
        "learner2": make_user("p_learner2", school=t["school_a2"], real_name="李老师", teacher_no="T-002"),
        "teacher": make_user("p_teacher", school=t["school_a1"]),
        "star": make_user("p_star", school=t["school_a1"], real_name="王老师", teacher_no="T-003"),
    }
    for name, cls in (("learner", class_a), ("learner2", class_a2), ("star", class_a)):
        enroll(people[name], project)
        do_assign_role(people[name], "learner", class_=cls)
    enroll(people["teacher"], project)
    db.session.commit()
    assignment = make_assignment(project, people["county_a"], course_id=course.id)
    # the learner of A1 has submitted (a PDF); a classmate's work is graded and recommended
    sub = service.check_save(people["learner"], assignment, class_a, text="我的反思",
                             uploads=[service.Upload("反思.pdf", io.BytesIO(PDF))], submit=True)
    db.session.commit()
    star = service.check_save(people["star"], assignment, class_a, text="优秀的反思",
                              uploads=[service.Upload("优秀.pdf", io.BytesIO(PDF))], submit=True)
    db.session.commit()
    service.check_grade(people["tutor"], star, 95, "很好")
    service.check_recommend(people["tutor"], star, True)
    db.session.commit()
    other = service.check_save(people["learner2"], assignment, class_a2, text="二班的作业",
                               uploads=[service.Upload("二班.pdf", io.BytesIO(PDF))], submit=True)
    db.session.commit()
    ids = {"project": project.id, "project_b": project_b.id, "course": course.id, "class_a": class_a.id,
           "class_a2": class_a2.id, "class_b": class_b.id, "assignment": assignment.id, "sub": sub.id,
           "star_sub": star.id, "other_sub": other.id, "file": sub.files[0].id, "star_file": star.files[0].id,
           "other_file": other.files[0].id}
    ids.update({f"u_{k}": u.id for k, u in people.items()})
    w = HW(ids)
    for name in PERSONAS:
        client = app.test_client()
        if name != "anon":
            response = Auth(client).login(f"p_{name}")
            assert response.status_code == 302, name
            w.csrf[name] = page_csrf(client, "/")
        else:
            w.csrf[name] = page_csrf(client, "/login")
        w.clients[name] = client
    return w
