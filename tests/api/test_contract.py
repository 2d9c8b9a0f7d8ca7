"""Schemathesis over /api/v1/openapi.json: every operation, positive and negative data, against the documented answers.

The run goes through the WSGI app (the project's test client, no network), signed in
with a learner's Bearer token, and again as an org administrator for the operations
only staff may call. Seeded data (a project, a course whose lesson has media, an
enrolment, a playback session, a tus upload) lets it hit valid ids as well as random
ones. It fails on any 5xx, any answer that is not JSON (an HTML page), any status the
document does not list and any body that does not match the documented schema.
"""
import secrets
from datetime import datetime, timezone

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from app.accounts import auth
from app.extensions import db
from app.media.models import MediaAsset, MediaRendition, TranscodeJob
from app.media.upload import encode_metadata
from tests.conftest import bearer

#: examples per operation, per data mode (positive, negative), per id source (random, seeded):
#: about 2 minutes for the whole run on 2 cores
MAX_EXAMPLES = 15

#: operations only staff get past the permission check with: run again as the org administrator
STAFF_OPERATIONS = {
    "media_api_create_media", "media_api_media_status", "media_api_retry_media", "media_api_course_media",
    "media_api_tus_create", "media_api_tus_upload", "media_api_tus_upload_head", "media_api_tus_patch",
    "media_api_tus_delete", "tracking_api_learner_progress", "tracking_api_learner_lesson_audit",
    "tracking_api_correct_credit",
}


@schemathesis.check
def answers_json(ctx, response, case):
    """Every answer with a body is JSON (never an HTML error page)."""
    if response.content and not response.headers.get("content-type", [""])[0].startswith("application/json"):
        raise AssertionError(f"not JSON: {response.status_code} {response.headers.get('content-type')}")
    return True


#: bad input may also be refused as too large (413) or for its Content-Type (415)
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": ["400", "401", "403", "404", "409", "410", "412", "413", "415", "422", "429"]}}})

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection, answers_json]


@schemathesis.serializer("application/offset+octet-stream")
def _tus_bytes(ctx, value):
    """tus PATCH bodies are raw bytes."""
    return {"data": value if isinstance(value, bytes) else str(value).encode()}


@pytest.fixture
def world(app, clock, org_tree, make_project, make_course, make_class, make_user, enroll, api_token, client):
    """A project with a course whose first lesson has media, an enrolled learner, an org admin, their tokens."""
    project = make_project("Project P")
    course = make_course(project, "Course C", durations=(600, 300))
    lesson = course.modules[0].lessons[0]
    cls = make_class(project, org_tree["school_a1"])
    learner = make_user("learner_a", role="learner", cls=cls, school=org_tree["school_a1"])
    enroll(learner, project)
    admin = make_user("admin_p", role="org_admin", org=org_tree["province"])
    uid = secrets.token_hex(16)
    asset = MediaAsset(uid=uid, course_id=course.id, lesson_id=lesson.id, kind="video", state="done", progress=1.0,
                       source_key=f"assets/{uid}/source.mp4", source_filename="lesson.mp4", duration_s=600,
                       width=640, height=360)
    asset.renditions.append(MediaRendition(label="360p", width=640, height=360, bitrate=800_000,
                                           storage_key=f"assets/{uid}/360p.mp4", size_bytes=1000, checksum="0" * 64,
                                           content_type="video/mp4", duration_s=600))
    asset.jobs.append(TranscodeJob(state="done", progress=1.0))  # a retry answers 409: nothing to redo
    db.session.add(asset)
    db.session.commit()
    learner_token, admin_token = api_token(learner), api_token(admin)
    opened = client.post("/api/v1/playback/sessions", json={"project_id": project.id, "lesson_id": lesson.id},
                         headers=bearer(learner_token))
    assert opened.status_code == 201, opened.get_data(as_text=True)
    metadata = encode_metadata({"filename": "a.mp4", "course_id": str(course.id), "lesson_id": str(lesson.id)})
    created = client.post("/api/v1/uploads", headers={**bearer(admin_token), "Tus-Resumable": "1.0.0",
                                                      "Upload-Length": "100", "Upload-Metadata": metadata})
    assert created.status_code == 201, created.get_data(as_text=True)
    ids = {"project_id": project.id, "course_id": course.id, "lesson_id": lesson.id, "learner_id": learner.id,
           "session_id": opened.get_json()["session_id"], "media_id": asset.id,
           "upload_id": created.headers["Location"].rsplit("/", 1)[-1]}
    return {"learner": learner, "admin": admin, "tokens": {"learner": learner_token, "admin": admin_token},
            "ids": ids, "upload_metadata": metadata}


def _fresh_token(user) -> str:
    token, _row = auth.do_issue_token(user)
    db.session.commit()
    return token


#: schemathesis's WSGI transport asks for compressed answers but does not decompress them; compression has its own tests
PLAIN = {"Accept-Encoding": "identity"}


def _headers(operation, world, persona: str) -> dict:
    if operation.definition.raw.get("security") == []:
        return dict(PLAIN)
    if operation.definition.raw["operationId"] == "accounts_api_revoke_token":
        return {**PLAIN, **bearer(_fresh_token(world[persona]))}  # each call revokes its token
    return {**PLAIN, **bearer(world["tokens"][persona])}


def _seeded(operation, world) -> dict:
    """Fixed parts of a request that name seeded objects: path ids, ?project_id=, a body or headers that open one."""
    ids = world["ids"]
    params = operation.definition.raw.get("parameters", ())
    seeded = {
        "path_parameters": {p["name"]: ids[p["name"]] for p in params if p["in"] == "path" and p["name"] in ids},
        "query": {p["name"]: ids[p["name"]] for p in params if p["in"] == "query" and p["name"] in ids},
    }
    operation_id = operation.definition.raw["operationId"]
    if operation_id == "tracking_api_open_session":
        seeded["body"] = {"project_id": ids["project_id"], "lesson_id": ids["lesson_id"]}
    if operation_id == "media_api_tus_create":
        seeded["headers"] = {"Tus-Resumable": "1.0.0", "Upload-Metadata": world["upload_metadata"]}
    return {k: v for k, v in seeded.items() if v}


def _order(operation) -> int:
    """Reads first, then writes, then what ends or deletes the seeded objects (a session's end, a tus DELETE)."""
    if operation.method.upper() in ("GET", "HEAD", "OPTIONS"):
        return 0
    if operation.method.upper() == "DELETE" or operation.path.endswith("/end"):
        return 2
    return 1


def _run(operation, mode, seeded: dict, call) -> str | None:
    """Run one operation's examples; return the first failure's report, or None."""
    strategy = operation.as_strategy(mode, **seeded)
    settings = hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                                   phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                                   report_multiple_bugs=False)

    @settings
    @hypothesis.given(strategy)
    def examples(case):
        call(case)

    try:
        examples()
    except hypothesis.errors.Unsatisfiable:
        return None  # nothing to vary (an operation without parameters has no negative data)
    except (Exception, BaseExceptionGroup) as exc:  # a check failed (schemathesis's FailureGroup), or the app raised
        return f"{type(exc).__name__}: {exc}"[:1500]
    return None


def test_api_contract(app, client, world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    assert len(operations) >= 24
    failures = []
    for persona in ("learner", "admin"):
        for operation in operations:
            operation_id = operation.definition.raw["operationId"]
            if persona == "admin" and operation_id not in STAFF_OPERATIONS:
                continue

            def call(case, operation=operation):
                response = case.call_and_validate(app=app, session=client,
                                                  headers=_headers(operation, world, persona), checks=CHECKS)
                if response.status_code == 201 and operation.path == "/api/v1/playback/sessions":
                    world["ids"]["session_id"] = response.json()["session_id"]  # the seeded one is superseded

            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                seeded = _seeded(operation, world)
                for fixed in ({}, seeded) if seeded else ({},):
                    failure = _run(operation, mode, fixed, call)
                    if failure:
                        failures.append(f"[{persona} {mode.value} {'seeded' if fixed else 'random'}] "
                                        f"{operation.label}\n{failure}")
    assert not failures, f"{len(failures)} contract failures:\n\n" + "\n\n".join(failures)
