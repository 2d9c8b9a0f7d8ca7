"""Transcode jobs: the queue, the worker, killed jobs, stale jobs, retries, the sweeper, early publishing."""
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.common.db import write_transaction
from app.extensions import db
from app.media import jobs, service
from app.media.models import MediaAsset, MediaRendition, TranscodeJob
from app.media.storage import get_storage
from tests.conftest import bearer

pytestmark = pytest.mark.config(MEDIA_X264_PRESET="ultrafast")

ROOT = Path(__file__).resolve().parents[2]


def _store(zoo_path, course, staff, lesson=None, filename="clip.mp4"):
    """Store a source and queue its job the way the API does, without running it."""
    with open(zoo_path, "rb") as handle:
        uid, key, size, checksum = service.do_store_source(handle)
    with write_transaction():
        asset, job = service.do_create_asset(staff, course, lesson, uid=uid, source_key=key, filename=filename,
                                             size_bytes=size, checksum=checksum)
    return asset.id, job.id


def _overrides(app, **extra):
    keys = ("SQLALCHEMY_DATABASE_URI", "MEDIA_ROOT", "HUEY_SQLITE_PATH", "MEDIA_HUEY_NAME")
    return json.dumps({**{k: app.config[k] for k in keys}, **extra})


def _fresh(model, ident):
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, ident)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if text in cmdline and "pytest" not in cmdline:
                found.append(int(entry.name))
    return found


@pytest.fixture
def slow_source(tmp_path, media_tools):
    """A 20 s 640×360 clip: long enough to kill its transcode halfway."""
    path = tmp_path / "slow.mp4"
    subprocess.run([media_tools.ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=20",
                    "-f", "lavfi", "-i", "sine=d=20", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                    "-shortest", str(path)], check=True, timeout=120)
    return path


@pytest.mark.config(HUEY_IMMEDIATE=False, MEDIA_X264_PRESET="ultrafast")
def test_queued_job_waits_for_the_worker_then_runs(app, client, zoo, staff_token, upload_media):
    response = upload_media(staff_token, zoo.path("webm_vp9"), filename="talk.webm")
    assert response.status_code == 202
    media_id = response.get_json()["media_id"]
    status = client.get(f"/api/v1/media/{media_id}", headers=bearer(staff_token)).get_json()
    assert (status["state"], status["progress"], status["renditions"]) == ("queued", 0.0, [])
    huey = jobs.get_huey(app)
    assert not huey.immediate
    if app.config.get("REDIS_URL"):  # production's shared queue
        assert type(huey).__name__ == "RedisHuey"
    else:  # the embedded queue is a file any worker process can read
        assert type(huey).__name__ == "SqliteHuey"
        assert Path(app.config["HUEY_SQLITE_PATH"]).exists()
    task = huey.dequeue()
    assert task.name == jobs.TRANSCODE_TASK and task.args == (response.get_json()["job_id"],)
    huey.execute(task)
    status = client.get(f"/api/v1/media/{media_id}", headers=bearer(staff_token)).get_json()
    assert status["state"] == "done" and [r["label"] for r in status["renditions"]] == ["240p"]


@pytest.mark.config(HUEY_IMMEDIATE=False, MEDIA_X264_PRESET="ultrafast")
def test_flask_media_worker_runs_queued_jobs(app, zoo, course_staff, media_course, tmp_path):
    asset_id, job_id = _store(zoo.path("mp3_plain"), media_course, course_staff, filename="voice.mp3")
    jobs.enqueue_transcode(job_id)
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "tests.media.subproc",
                               _overrides(app, HUEY_IMMEDIATE=False, MEDIA_X264_PRESET="ultrafast"), "worker"], cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _fresh(TranscodeJob, job_id).state in ("done", "failed") or worker.poll() is not None:
                break
            time.sleep(0.3)
    finally:
        worker.send_signal(signal.SIGINT)  # Huey's graceful stop
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    job = _fresh(TranscodeJob, job_id)
    assert job.state == "done", (tmp_path / "worker.log").read_text()[-2000:]
    assert _fresh(MediaAsset, asset_id).renditions[0].label == "audio"


@pytest.mark.config(HUEY_IMMEDIATE=False, MEDIA_X264_PRESET="ultrafast")
def test_worker_refuses_immediate_mode(app):
    app.config["HUEY_IMMEDIATE"] = True
    app.extensions.pop("media_huey", None)
    result = app.test_cli_runner().invoke(args=["media", "worker"])
    assert result.exit_code != 0 and "HUEY_IMMEDIATE" in result.output


def test_redis_queue_when_redis_url_is_set(app, course_staff, media_course, zoo):
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        pytest.skip("no Redis at 127.0.0.1:6379")
    app.config.update(REDIS_URL=url, HUEY_IMMEDIATE=False, MEDIA_HUEY_NAME=f"xueshi-media-test-{os.getpid()}")
    app.extensions.pop("media_huey", None)
    huey = jobs.get_huey(app)
    try:
        assert type(huey).__name__ == "RedisHuey"
        _, job_id = _store(zoo.path("pdf_handout"), media_course, course_staff, filename="a.pdf")
        jobs.enqueue_transcode(job_id)
        task = huey.dequeue()
        assert task.args == (job_id,)
        huey.execute(task)
        assert _fresh(TranscodeJob, job_id).state == "done"
    finally:
        huey.flush()


def test_killed_job_leaves_nothing_half_made_and_can_be_retried(app, clock, client, slow_source, course_staff,
                                                                 api_token, media_course):
    clock.set(datetime.now(timezone.utc))  # the worker process runs on the real clock
    staff_token = api_token(course_staff)
    asset_id, job_id = _store(slow_source, media_course, course_staff)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.media.subproc", _overrides(app, MEDIA_X264_PRESET="veryslow"), "job",
         str(job_id)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    work = Path(app.config["MEDIA_ROOT"]) / ".work" / f"job-{job_id}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = _fresh(TranscodeJob, job_id)
            if job.state == "running" and job.progress > 0 and list(work.glob("*.part")):
                break
            assert child.poll() is None, child.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("the job never got going")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    time.sleep(0.5)
    assert _processes_mentioning(str(work)) == []  # ffmpeg died with its worker
    job, asset = _fresh(TranscodeJob, job_id), _fresh(MediaAsset, asset_id)
    assert job.state == "running"  # nobody told the database: the heartbeat will
    assert asset.renditions == [] and not asset.is_playable
    storage = get_storage()
    stored = sorted(p.name for p in storage.path(asset.storage_prefix).iterdir())
    assert stored == ["source.mp4"]  # no half-made rendition reached storage
    assert list(work.glob("*.part"))  # the scratch folder is where the pieces are

    clock.set(job.heartbeat_at + timedelta(seconds=10))  # the worker was seen 10 s ago: maybe still busy
    assert client.post(f"/api/v1/media/{asset_id}/retry", headers=bearer(staff_token)).status_code == 409
    clock.set(job.heartbeat_at + timedelta(seconds=app.config.get("MEDIA_JOB_STALE_S", 180) + 1))
    report = service.do_sweep()
    assert report.stale_jobs == 1 and report.stray_files >= 1
    job = _fresh(TranscodeJob, job_id)
    assert (job.state, job.error_code) == ("failed", "worker_lost")
    assert not work.exists()
    status = client.get(f"/api/v1/media/{asset_id}", headers=bearer(staff_token)).get_json()
    assert status["state"] == "failed" and status["error_code"] == "worker_lost" and status["error"]

    retried = client.post(f"/api/v1/media/{asset_id}/retry", headers=bearer(staff_token))
    assert retried.status_code == 202
    status = client.get(f"/api/v1/media/{asset_id}", headers=bearer(staff_token)).get_json()
    assert status["state"] == "done" and status["attempt"] == 2
    assert [r["label"] for r in status["renditions"]] == ["240p", "360p"]


def test_stale_running_job_can_be_retried_without_the_sweeper(app, clock, client, zoo, course_staff, staff_token,
                                                               media_course):
    asset_id, job_id = _store(zoo.path("silent_video"), media_course, course_staff)
    with write_transaction():
        job = db.session.get(TranscodeJob, job_id)
        job.state, job.started_at, job.heartbeat_at = "running", clock(), clock()
        job.asset.state = "running"
    assert client.post(f"/api/v1/media/{asset_id}/retry", headers=bearer(staff_token)).status_code == 409
    clock.advance(app.config.get("MEDIA_JOB_STALE_S", 180) + 1)
    response = client.post(f"/api/v1/media/{asset_id}/retry", headers=bearer(staff_token))
    assert response.status_code == 202
    old = _fresh(TranscodeJob, job_id)
    assert (old.state, old.error_code) == ("failed", "worker_lost")
    assert _fresh(MediaAsset, asset_id).state == "done"


def test_a_superseded_job_does_not_run(app, zoo, course_staff, media_course):
    asset_id, job_id = _store(zoo.path("pdf_handout"), media_course, course_staff, filename="a.pdf")
    with write_transaction():
        asset = db.session.get(MediaAsset, asset_id)
        newer = service.do_retry(asset)
        newer_id = newer.id
    assert service.do_run_transcode_job(job_id) == "failed"  # the first message arrives late
    assert _fresh(TranscodeJob, job_id).state == "failed"
    assert service.do_run_transcode_job(newer_id) == "done"
    assert service.do_run_transcode_job(newer_id) == "done"  # a duplicate message changes nothing


@pytest.mark.config(MEDIA_EARLY_RUNG_MIN_S=0, MEDIA_X264_PRESET="ultrafast")
def test_lowest_rung_is_playable_before_the_others_exist(app, zoo, course_staff, media_course, monkeypatch):
    from app.media import transcode as transcode_mod

    lesson = media_course.modules[0].lessons[0]
    asset_id, job_id = _store(zoo.path("hd_720p"), media_course, course_staff, lesson=lesson)
    seen = []
    real_run = transcode_mod.run_ffmpeg

    def observing_run(cmd, **kwargs):
        asset = _fresh(MediaAsset, asset_id)
        seen.append((asset.state, [r.label for r in asset.renditions],
                     getattr(service.get_lesson_asset(db.session.get(type(lesson), lesson.id)), "id", None)))
        return real_run(cmd, **kwargs)

    monkeypatch.setattr(transcode_mod, "run_ffmpeg", observing_run)
    assert service.do_run_transcode_job(job_id) == "done"
    first_pass, second_pass = seen[0], seen[1]
    assert first_pass == ("running", [], None)
    assert second_pass == ("running", ["240p"], asset_id)  # a learner can watch 240p while 360p/720p are made
    assert [r.label for r in _fresh(MediaAsset, asset_id).renditions] == ["240p", "360p", "720p"]


@pytest.mark.config(MEDIA_PROGRESS_INTERVAL_S=0, MEDIA_X264_PRESET="ultrafast")
def test_progress_and_heartbeat_are_recorded(app, zoo, course_staff, media_course, monkeypatch):
    from app.media import transcode as transcode_mod

    asset_id, job_id = _store(zoo.path("vfr"), media_course, course_staff)
    recorded = []
    real_run = transcode_mod.run_ffmpeg

    def run_with_progress_check(cmd, **kwargs):
        callback = kwargs.get("on_progress")

        def spy(fraction):
            callback(fraction)
            recorded.append(_fresh(TranscodeJob, job_id).progress)

        if callback:
            kwargs["on_progress"] = spy
        return real_run(cmd, **kwargs)

    monkeypatch.setattr(transcode_mod, "run_ffmpeg", run_with_progress_check)
    service.do_run_transcode_job(job_id)
    assert recorded and all(0 <= p <= 1 for p in recorded) and recorded == sorted(recorded)
    job = _fresh(TranscodeJob, job_id)
    assert job.state == "done" and job.progress == 1.0 and job.heartbeat_at and job.finished_at


def test_missing_source_fails_cleanly(app, zoo, course_staff, media_course):
    asset_id, job_id = _store(zoo.path("pdf_handout"), media_course, course_staff, filename="a.pdf")
    get_storage().delete(_fresh(MediaAsset, asset_id).source_key)
    assert service.do_run_transcode_job(job_id) == "failed"
    asset = _fresh(MediaAsset, asset_id)
    assert asset.state == "failed" and asset.error_code == "transcode_failed"
    assert not (Path(app.config["MEDIA_ROOT"]) / ".work" / f"job-{job_id}").exists()


def test_sweeper_keeps_live_things_and_removes_strays(app, clock, client, course_staff, api_token, media_course):
    from app.media.upload import encode_metadata

    clock.set(datetime.now(timezone.utc))  # file ages come from the filesystem's clock
    staff_token = api_token(course_staff)
    storage = get_storage()
    created = client.post("/api/v1/uploads", headers={
        **bearer(staff_token), "Tus-Resumable": "1.0.0", "Upload-Length": "100",
        "Upload-Metadata": encode_metadata({"filename": "a.mp4", "course_id": str(media_course.id)})})
    live_upload = created.headers["Location"].rsplit("/", 1)[-1]
    stray_dir = storage.work_dir("job-999999")
    (stray_dir / "720p.mp4.part").write_bytes(b"half")
    orphan = storage.root / "uploads" / ("f" * 32 + ".part")
    orphan.write_bytes(b"left over")
    old = time.time() - 3 * 86400
    os.utime(orphan, (old, old))
    report = service.do_sweep()
    assert report.stray_files == 2 and report.expired_uploads == 0
    assert not stray_dir.exists() and not orphan.exists()
    assert storage.upload_path(live_upload).exists()


def test_sweep_and_retry_cli(app, zoo, course_staff, media_course):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["media", "sweep"])
    assert result.exit_code == 0 and json.loads(result.output) == {
        "expired_uploads": 0, "stray_files": 0, "stale_jobs": 0}
    asset_id, job_id = _store(zoo.path("truncated"), media_course, course_staff)
    service.do_run_transcode_job(job_id)
    result = runner.invoke(args=["media", "retry", str(asset_id)])
    assert result.exit_code == 0, result.output
    asset = _fresh(MediaAsset, asset_id)
    assert asset.latest_job.attempt == 2 and asset.error_code == "truncated"
    assert runner.invoke(args=["media", "retry", "424242"]).exit_code != 0
    assert db.session.query(MediaRendition).count() == 0
