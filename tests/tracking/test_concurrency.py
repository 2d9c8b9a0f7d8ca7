"""R11: heartbeats of one user racing on several threads never credit the same wall time twice (SQLite and PostgreSQL)."""
from __future__ import annotations

import random
import threading

from sqlalchemy import func, select, update

from app.extensions import db
from app.tracking import service
from app.tracking.models import CreditWindow, DailyCredit, LessonProgress, ProjectDayCredit

THREADS = 6


class Rounds:
    """Lock-step rounds: the main thread moves the clock, then every worker thread posts at once."""

    def __init__(self, clock, threads: int):
        self.clock = clock
        self.start = threading.Barrier(threads + 1)
        self.done = threading.Barrier(threads + 1)
        self.errors: list[BaseException] = []

    def run(self, workers, rounds: int, step_s: float = 15):
        pool = [threading.Thread(target=self._loop, args=(w, rounds)) for w in workers]
        for thread in pool:
            thread.start()
        for _ in range(rounds):
            self.clock.advance(step_s)
            self.start.wait(timeout=60)
            self.done.wait(timeout=60)
        for thread in pool:
            thread.join(timeout=60)
        assert not self.errors, self.errors

    def _loop(self, worker, rounds):
        for k in range(1, rounds + 1):
            self.start.wait(timeout=60)
            try:
                worker(k)
            except BaseException as exc:  # reported by run()
                self.errors.append(exc)
            finally:
                self.done.wait(timeout=60)


def _assert_consistent(user_id: int, max_wall_ms: int) -> int:
    db.session.rollback()
    windows = db.session.execute(
        select(CreditWindow.started_ms, CreditWindow.ended_ms, CreditWindow.credited_ms)
        .where(CreditWindow.user_id == user_id)
        .order_by(CreditWindow.started_ms)
    ).all()
    for a, b in zip(windows, windows[1:]):
        assert a.ended_ms <= b.started_ms, (a, b)  # no wall time credited twice
    for w in windows:
        assert w.ended_ms - w.started_ms == w.credited_ms
    total = sum(w.credited_ms for w in windows)
    lessons = db.session.execute(select(LessonProgress).where(LessonProgress.user_id == user_id)).scalars().all()
    assert sum(p.credited_ms for p in lessons) == total
    for p in lessons:
        stored, recomputed = service.get_recomputed_ms(user_id, p.project_id, p.lesson_id)
        assert stored == recomputed
    daily = db.session.execute(select(func.coalesce(func.sum(DailyCredit.credited_ms), 0)).where(
        DailyCredit.user_id == user_id)).scalar_one()
    assert daily == total
    per_project = db.session.execute(select(func.coalesce(func.sum(ProjectDayCredit.credited_ms), 0)).where(
        ProjectDayCredit.user_id == user_id)).scalar_one()
    assert per_project == total
    assert total <= max_wall_ms
    return total


def test_threads_posting_the_same_heartbeats_credit_each_interval_once(app, setup, player, clock):
    course = setup()
    owner = player(course)
    owner.open()
    owner.beat(event="play")
    sid = owner.session_id
    accepted = []
    lock = threading.Lock()

    def worker_factory():
        client = app.test_client()

        def post(k):
            body = {"seq": k + 1, "position_s": 15.0 * k, "playing": True, "visible": True, "rate": 1, "event": "tick"}
            response = client.post(f"/api/v1/playback/sessions/{sid}/heartbeats", json=body, headers=course.headers)
            assert response.status_code == 200, response.get_data(as_text=True)
            if response.get_json()["accepted"]:
                with lock:
                    accepted.append(k)

        return post

    rounds = 12
    Rounds(clock, THREADS).run([worker_factory() for _ in range(THREADS)], rounds)
    assert sorted(accepted) == list(range(1, rounds + 1))  # exactly one copy of each accepted
    assert _assert_consistent(course.learner.id, rounds * 15_000) == rounds * 15_000


def test_threads_racing_sessions_of_one_user_never_overlap(app, setup, clock):
    course = setup(durations=(3600, 3600, 3600))
    started = clock()
    lesson_ids = [lesson.id for lesson in course.lessons]
    project_id = course.project.id
    codes: dict[int, int] = {}
    lock = threading.Lock()

    def worker_factory(index: int):
        client = app.test_client()
        rng = random.Random(index)
        state = {"sid": None, "seq": 0, "pos": 0.0}

        def step(k):
            if state["sid"] is None or rng.random() < 0.15:  # a tab or device (re)opens
                response = client.post("/api/v1/playback/sessions",
                                       json={"lesson_id": rng.choice(lesson_ids), "project_id": project_id},
                                       headers=course.headers)
                assert response.status_code == 201, response.get_data(as_text=True)
                state.update(sid=response.get_json()["session_id"], seq=0, pos=0.0)
                event = "play"
            else:
                state["pos"] = min(3600.0, state["pos"] + rng.choice([15, 15, 15, 30, 150]))
                event = "tick"
            state["seq"] += 1
            body = {"seq": state["seq"], "position_s": state["pos"], "playing": True, "visible": True, "rate": 1,
                    "event": event}
            response = client.post(f"/api/v1/playback/sessions/{state['sid']}/heartbeats", json=body,
                                   headers=course.headers)
            assert response.status_code in (200, 409), response.get_data(as_text=True)
            with lock:
                codes[response.status_code] = codes.get(response.status_code, 0) + 1

        return step

    rounds = 15
    Rounds(clock, THREADS).run([worker_factory(i) for i in range(THREADS)], rounds)
    wall_ms = int((clock() - started).total_seconds() * 1000)
    total = _assert_consistent(course.learner.id, wall_ms)
    assert codes.get(409, 0) > 0 and codes.get(200, 0) > 0  # the race really happened
    assert total > 0


def test_writers_locking_overlapping_groups_of_users_never_deadlock_nor_lose_a_write(app, setup):
    """The group write: each writer locks a set of users (in any order given) and changes all of them."""
    from app.tracking.models import TrackingUserState

    users = [setup(username=f"member{i}").learner.id for i in range(4)]
    groups = [users, list(reversed(users)), users[1:3], [users[3], users[0]], users[2:], [users[1]]]
    barrier = threading.Barrier(len(groups))
    errors: list[BaseException] = []
    rounds = 5

    def writer(group):
        try:
            with app.app_context():
                barrier.wait(timeout=60)
                for _ in range(rounds):
                    with service.user_write_lock(group) as conn:
                        for user_id in group:  # read, then write what was read plus one: a lost update shows
                            value = conn.execute(select(TrackingUserState.playing_ms).where(
                                TrackingUserState.user_id == user_id)).scalar_one()
                            conn.execute(update(TrackingUserState).where(TrackingUserState.user_id == user_id)
                                         .values(playing_ms=value + 1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=writer, args=(group,)) for group in groups]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not errors, errors
    db.session.rollback()
    counts = dict(db.session.execute(select(TrackingUserState.user_id, TrackingUserState.playing_ms)
                                     .where(TrackingUserState.user_id.in_(users))).all())
    assert counts == {user_id: rounds * sum(user_id in group for group in groups) for user_id in users}
