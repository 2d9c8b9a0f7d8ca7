"""flask demo: an org tree, a running project, a course with generated videos, and users to try it with.

Besides the 60-hour project there is a short one (0.1 学时) that learner1 can finish in minutes. The demo
videos go through the app's own transcode pipeline, so every lesson has its ladder (240p and 360p).
Running it twice changes nothing. Production refuses it unless XUESHI_ALLOW_DEMO=1.
"""
import os
import re
import subprocess
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.common import clock
from app.common.db import write_transaction
from app.common.ffmpeg import ffmpeg_binary
from app.extensions import db

DEMO_PASSWORDS = {"admin": "demo-admin", "staff": "demo-staff", "learner": "demo-learner"}
LEARNER_COUNT = 50

#: (storage key, seconds, title): the short one is at most 60 s, the long one at least 5 min
DEMO_VIDEOS = [
    ("demo/lesson-1-intro.mp4", 45, "导学：如何参加本次培训"),
    ("demo/lesson-2-classroom.mp4", 320, "信息技术支持的课堂导入"),
    ("demo/lesson-3-assessment.mp4", 150, "课堂评价与反馈"),
]
DEMO_PDF = ("demo/material-handbook.pdf", "学员手册（PDF）")
#: the generated sources: 360p, so the ladder has a 240p and a 360p rung
DEMO_VIDEO_SIZE = (640, 360)
COURSE_TITLE = "信息技术与课堂教学融合"
#: the short project: its three videos alone (515 s, 0.19 学时 of 45 min) hold more than it asks for (270 s, a few minutes of watching)
SHORT_PROJECT_TITLE = "新教师快速体验（短项目）"
SHORT_PROJECT_HOURS = 0.1
SHORT_PROJECT_LEARNERS = ("learner1",)


def _generate_video(path: Path, seconds: int) -> None:
    """Write a small H.264/AAC MP4 (test pattern plus tone) with faststart, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.mp4")
    cmd = [
        ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc=size={DEMO_VIDEO_SIZE[0]}x{DEMO_VIDEO_SIZE[1]}:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "50",
        "-b:v", "500k", "-maxrate", "600k", "-bufsize", "1200k",
        "-c:a", "aac", "-b:a", "64k", "-ac", "2", "-shortest",
        "-movflags", "+faststart", str(tmp),
    ]
    subprocess.run(cmd, check=True, timeout=600)
    os.replace(tmp, path)


def _ffmpeg_info(path: Path) -> str:
    return subprocess.run([ffmpeg_binary(), "-hide_banner", "-i", str(path)], capture_output=True, text=True,
                          timeout=60).stderr


def probe_duration_s(path: Path) -> float:
    """Read a media file's duration with ffmpeg (works with the imageio-ffmpeg binary too)."""
    match = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", _ffmpeg_info(path))
    if not match:
        raise click.ClickException(f"could not read the duration of {path}")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


#: the handbook's pages: 600 s over 10 pages, so one page is credited at most 60 s without a turn (R14)
HANDBOOK_SECTIONS = (
    ("Welcome", "This handbook is a lesson of its own: read it in the app's reader, turning the pages."),
    ("Your learning hours", "Hours are credited while a lesson plays, or a document is read, in a visible window."),
    ("Videos", "Watch every required lesson; replaying adds coverage, not hours beyond the lesson's length."),
    ("Documents", "The reading clock runs while you turn, scroll or tap; it stops after a minute without any."),
    ("One page at a time", "A page kept open for a long time earns nothing more until you turn the page."),
    ("Presence checks", "Answer the presence checks that appear during long lessons."),
    ("One lesson at a time", "Opening a lesson in a second tab or device moves the credit there."),
    ("Weak networks", "A dropped connection costs nothing: the player keeps trying and counts the time."),
    ("Your progress", "Check your hours and what is still missing on the progress page."),
    ("Questions", "Ask your tutor or class manager; they see the same audit trail as you."),
)


def probe_video_height(path: Path) -> int:
    """Read the height of a file's video stream with ffmpeg (0 when there is none)."""
    match = re.search(r"Stream #.*Video: .*?, (\d{2,5})x(\d{2,5})", _ffmpeg_info(path))
    return int(match.group(2)) if match else 0


def _generate_pdf(path: Path) -> None:
    from fpdf import FPDF

    path.parent.mkdir(parents=True, exist_ok=True)
    pdf = FPDF()
    for number, (title, text) in enumerate(HANDBOOK_SECTIONS, 1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=16)
        pdf.cell(0, 12, f"Xueshi learner handbook - {number}. {title}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    tmp = path.with_name(path.name + ".part")
    pdf.output(str(tmp))
    os.replace(tmp, path)


def _handbook_is_current(path: Path) -> bool:
    """Whether the generated handbook exists with all its pages (an older demo made a one-page one)."""
    import pypdf

    try:
        return len(pypdf.PdfReader(str(path)).pages) == len(HANDBOOK_SECTIONS)
    except (OSError, pypdf.errors.PyPdfError):
        return False


def ensure_demo_media(media_root: Path) -> dict[str, int]:
    """Generate the demo files that are missing; return each key's probed duration in whole seconds."""
    durations: dict[str, int] = {}
    for key, seconds, _title in DEMO_VIDEOS:
        path = media_root / key
        if not path.exists() or probe_video_height(path) < DEMO_VIDEO_SIZE[1]:  # made by an older demo: 240p
            click.echo(f"generating {key} ({seconds} s) ...")
            _generate_video(path, seconds)
        durations[key] = int(round(probe_duration_s(path)))
    pdf_path = media_root / DEMO_PDF[0]
    if not _handbook_is_current(pdf_path):
        _generate_pdf(pdf_path)
    return durations


def _get_or_create_unit(name: str, kind: str, parent, code: str):
    from app.accounts.service import do_create_org_unit, get_org_unit_by_code

    return get_org_unit_by_code(code) or do_create_org_unit(name, kind, parent, code)


def _get_or_create_user(username: str, password: str, **fields):
    from app.accounts.models import User
    from app.accounts.service import do_create_user

    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    return user or do_create_user(username, password, check=False, **fields)


def load_demo(media_root: Path) -> None:
    """Create the demo data set, skipping whatever already exists."""
    from app.accounts.service import do_assign_role
    from app.classrooms.models import Class_
    from app.classrooms.service import do_create_class
    from app.courses.models import Course, Project
    from app.courses.service import (do_add_lesson, do_add_module, do_create_course, do_create_project, do_enroll,
                                     do_link_course)

    durations = ensure_demo_media(media_root)
    today = clock.now().date()
    with write_transaction():
        province = _get_or_create_unit("江南省", "province", None, "DEMO-P")
        city = _get_or_create_unit("江南市", "city", province, "DEMO-C")
        east = _get_or_create_unit("东湖县", "county", city, "DEMO-E")
        west = _get_or_create_unit("西山县", "county", city, "DEMO-W")
        schools = [
            _get_or_create_unit("东湖县第一小学", "school", east, "DEMO-E1"),
            _get_or_create_unit("东湖县实验中学", "school", east, "DEMO-E2"),
            _get_or_create_unit("西山县第一小学", "school", west, "DEMO-W1"),
            _get_or_create_unit("西山县第二中学", "school", west, "DEMO-W2"),
        ]
        center = _get_or_create_unit("东湖县教师学习中心", "learning_center", east, "DEMO-LC")

        title = "2026年度中小学教师全员远程培训"
        project = db.session.execute(select(Project).where(Project.title == title)).scalar_one_or_none()
        if project is None:
            project = do_create_project(
                title, province, today - timedelta(days=30), today + timedelta(days=60),
                description="每位中小学教师本年度完成 60 学时的远程培训。", required_hours=60,
            )
        course = db.session.execute(select(Course).where(Course.title == COURSE_TITLE)).scalar_one_or_none()
        if course is None:
            course = do_create_course(COURSE_TITLE, province, description="示范课程：三节视频课与一份学员手册。")
            module = do_add_module(course, "第一单元 课堂中的信息技术")
            for key, _seconds, lesson_title in DEMO_VIDEOS:
                do_add_lesson(module, lesson_title, kind="video", duration_s=durations[key], media_key=key)
            do_add_lesson(module, DEMO_PDF[1], kind="document", duration_s=600, media_key=DEMO_PDF[0])
            do_link_course(project, course, is_required=True)

        admin = _get_or_create_user("admin", DEMO_PASSWORDS["admin"], real_name="系统管理员", school=province)
        do_assign_role(admin, "site_admin")
        cls = db.session.execute(select(Class_).where(Class_.project_id == project.id, Class_.name == "东湖县一班")).scalar_one_or_none()
        if cls is None:
            cls = do_create_class(project, "东湖县一班", east, learning_center=center, subject="综合", stage="primary")
        tutor = _get_or_create_user("tutor1", DEMO_PASSWORDS["staff"], real_name="王老师（辅导教师）", school=east)
        do_assign_role(tutor, "tutor", class_=cls)
        manager = _get_or_create_user("manager1", DEMO_PASSWORDS["staff"], real_name="李老师（班主任）", school=center)
        do_assign_role(manager, "class_manager", class_=cls)
        expert = _get_or_create_user("expert1", DEMO_PASSWORDS["staff"], real_name="张教授（课程专家）", school=province)
        do_assign_role(expert, "expert", org_unit=province)
        # a county education bureau's administrator for each county: each sees its own county only
        for username, name, county in (("eastadmin", "东湖县教育局管理员", east), ("westadmin", "西山县教育局管理员", west)):
            bureau = _get_or_create_user(username, DEMO_PASSWORDS["staff"], real_name=name, school=county)
            do_assign_role(bureau, "org_admin", org_unit=county)
        for i in range(1, LEARNER_COUNT + 1):
            school = schools[(i - 1) % 2]  # the class is in 东湖县: its two schools
            learner = _get_or_create_user(
                f"learner{i}", DEMO_PASSWORDS["learner"], real_name=f"学员{i:02d}", teacher_no=f"DEMO{i:05d}",
                phone=f"139{i:08d}", school=school, subject="语文" if i % 2 else "数学",
                stage="primary" if i % 2 else "junior",
            )
            do_enroll(learner, project)
            do_assign_role(learner, "learner", class_=cls)
        _get_or_create_user("visitor1", DEMO_PASSWORDS["learner"], real_name="访客教师", teacher_no="DEMO99999",
                            school=schools[2])
        load_short_project(province, course, project)
        second = load_second_class(project, schools[2], center)
        load_homework(project, course, cls, tutor, media_root)
        load_demo_notifications()
        load_demo_forums(project, cls)
    load_group_history(second.id, center.id)


def load_demo_forums(project, cls) -> None:
    """Boards with topics, replies, an excellent post, an answered and an unanswered question (once)."""
    from app.accounts.models import User
    from app.forums import service as forums
    from app.forums.models import ForumBoard, ForumPost, ForumTopic

    forums.ensure_boards(project)
    db.session.flush()
    boards = {(b.kind, b.class_id): b for b in db.session.execute(
        select(ForumBoard).where(ForumBoard.project_id == project.id)).scalars()}
    if db.session.execute(select(ForumTopic.id).where(ForumTopic.board_id.in_([b.id for b in boards.values()]))
                          .limit(1)).first():
        return
    users = {u.username: u for u in db.session.execute(select(User).where(User.username.in_(
        ("tutor1", "expert1", "learner1", "learner2", "learner3", "learner4", "learner5")))).scalars()}
    class_board = boards[("class", cls.id)]
    course_board = next(b for (kind, _c), b in boards.items() if kind == "course")
    qa_board = next(b for (kind, _c), b in boards.items() if kind == "qa")
    start = clock.now() - timedelta(days=3)

    def aged(post, hours):
        """Date the post (and its topic's activity) some hours after the start: a forum with a past."""
        post.created_at = post.topic.last_post_at = start + timedelta(hours=hours)
        if post.is_first:
            post.topic.created_at = post.created_at
        return post

    welcome, first = forums.do_create_topic(users["tutor1"], class_board, "欢迎来到东湖县一班研讨区",
                                            "各位老师好！这里是我们班的研讨区。\n\n- 学习中的问题和心得都可以发在这里\n"
                                            "- 回复时可以**引用**别人的帖子\n\n期待大家积极交流。")
    aged(first, 0)
    forums.do_moderate_topic(users["tutor1"], welcome, is_pinned=True)
    aged(forums.do_reply(users["learner1"], welcome, "王老师好！我是东湖县第一小学的语文老师，很高兴和大家一起学习。"), 2)
    good = aged(forums.do_reply(users["learner2"], welcome, "看完第一节视频，我最大的体会是：信息技术要服务于教学目标，"
                                "而不是为了用而用。我准备在下周的阅读课上试一试分组协作的方式。", first.id), 5)
    forums.do_mark_excellent(users["tutor1"], good, True)

    topic, post = forums.do_create_topic(users["learner3"], course_board, "信息技术如何融入语文课堂？",
                                         "想请各位老师分享一下，在低年级识字教学中，有哪些好用的信息技术手段？")
    aged(post, 8)
    aged(forums.do_reply(users["learner4"], topic, "我们学校用电子白板做生字卡片游戏，学生特别喜欢，课堂参与度高了不少。"), 10)
    aged(forums.do_reply(users["tutor1"], topic, "两位老师的做法都很好。注意控制屏幕时间，留出书写练习的时间。"), 12)

    question, qpost = forums.do_create_topic(users["learner1"], qa_board, "课堂录像的时长有要求吗？",
                                             "第二单元的作业要求上传课堂录像，请问时长和格式有什么具体要求？")
    aged(qpost, 20)
    answer = aged(forums.do_reply(users["expert1"], question, "录像以一节完整的课为宜，40 分钟左右；"
                                  "常见的 MP4 格式即可，清晰度 720p 就够了。"), 26)
    forums.do_accept_answer(users["learner1"], answer)
    _open, opost = forums.do_create_topic(users["learner5"], qa_board, "学时统计多久更新一次？",
                                          "我昨天看完了两节视频，今天在“我的学习”里看到的学时好像没有变化，请问多久更新？")
    aged(opost, 30)
    db.session.flush()


def load_demo_notifications():
    """Two notifications for learner1 (a welcome and a reminder) so the bell shows something, unless they exist."""
    from app.accounts.models import User
    from app.notifications.models import Notification
    from app.notifications.service import notify

    learner = db.session.execute(select(User).where(User.username == "learner1")).scalar_one()
    if db.session.execute(select(Notification.id).where(Notification.user_id == learner.id).limit(1)).first():
        return
    notify([learner.id], "system", "欢迎使用学时！在“我的学习”里可以看到你的培训项目和课程。", "/learn", email=False)
    notify([learner.id], "reminder", "班主任提醒：本周请至少完成一节视频课的学习。", "/learn", email=False)


def load_short_project(province, course, long_project):
    """Create the short project (0.1 学时, the same course) with learner1 enrolled, unless it exists."""
    from app.accounts.models import User
    from app.courses.models import Project
    from app.courses.service import do_create_project, do_enroll, do_link_course

    short = db.session.execute(select(Project).where(Project.title == SHORT_PROJECT_TITLE)).scalar_one_or_none()
    if short is None:
        short = do_create_project(
            SHORT_PROJECT_TITLE, province, long_project.starts_on, long_project.ends_on,
            description="一个几分钟就能学完的示范项目：看完三节视频即可达到 0.1 学时，看到项目完成。",
            required_hours=SHORT_PROJECT_HOURS,
        )
        do_link_course(short, course, is_required=True)
    for username in SHORT_PROJECT_LEARNERS:
        learner = db.session.execute(select(User).where(User.username == username)).scalar_one()
        do_enroll(learner, short)
    return short


def ensure_demo_ladder(media_root: Path, keys: set[str] | None = None) -> int:
    """Give each demo video lesson (of ``keys``, default all) without a playable asset its ladder.

    The app's own transcode pipeline runs here, job after job (no worker needed); returns how many were made.
    """
    from app.courses.models import Course
    from app.media.models import MediaAsset
    from app.media.service import do_create_asset, do_run_transcode_job, do_store_source, get_lesson_asset

    course = db.session.execute(select(Course).where(Course.title == COURSE_TITLE)).scalar_one_or_none()
    if course is None:
        return 0
    demo_keys = {key for key, _seconds, _title in DEMO_VIDEOS} if keys is None else keys
    made = 0
    for lesson in [lesson for module in course.modules for lesson in module.lessons]:
        if lesson.kind != "video" or lesson.media_key not in demo_keys or get_lesson_asset(lesson) is not None:
            continue
        click.echo(f"transcoding {lesson.media_key} to the ladder ...")
        with open(media_root / lesson.media_key, "rb") as source:
            uid, key, size, checksum = do_store_source(source)
        with write_transaction():
            asset, job = do_create_asset(None, course, lesson, uid=uid, source_key=key,
                                         filename=Path(lesson.media_key).name, size_bytes=size, checksum=checksum)
            asset_id, job_id = asset.id, job.id
        if do_run_transcode_job(job_id) != "done":
            asset = db.session.get(MediaAsset, asset_id)
            raise click.ClickException(f"transcoding {lesson.media_key} failed: {asset.error_code} {asset.error_detail}")
        made += 1
    return made



SECOND_CLASS = "西山县第一小学一班"
HOMEWORK_TITLE = "作业一：信息技术融合教学设计"
REFLECTION_TITLE = "学习反思（选做）"
#: the demo learners of the first class in each homework state (learner1 has not started)
HOMEWORK_STATES = {"learner2": "draft", "learner3": "submitted", "learner4": "returned", "learner5": "graded",
                   "learner6": "recommended", "learner7": "submitted"}


def load_homework(project, course, cls, tutor, media_root: Path) -> None:
    """A required assignment with files and an optional text-only reflection; learners in every state (once)."""
    import io

    from app.accounts.models import User
    from app.homework import service as homework
    from app.homework.models import Assignment

    exists = db.session.execute(select(Assignment.id).where(Assignment.project_id == project.id,
                                                            Assignment.title == HOMEWORK_TITLE)).first()
    if exists:
        return
    now = clock.now()
    admin = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
    main = homework.do_create_assignment(
        project, admin, course_id=course.id, class_id=None, title=HOMEWORK_TITLE,
        instructions="结合所教学科，设计一节**信息技术支持的课堂教学**：\n\n1. 教学目标与重难点\n2. 技术工具及使用环节\n"
                     "3. 预期效果与评价方式\n\n以 Word、WPS 或 PDF 文档提交，也可附课堂照片。",
        due_at=now + timedelta(days=20), late_until=now + timedelta(days=27), is_required=True,
        kinds=["documents", "images"], max_mb=20, max_files=5, accepts_text=True, accepts_files=True,
        is_returnable=True)
    homework.do_create_assignment(
        project, admin, course_id=course.id, class_id=None, title=REFLECTION_TITLE,
        instructions="用三五百字写下本次培训对你课堂教学的启发。", due_at=now + timedelta(days=40), late_until=None,
        is_required=False, kinds=[], max_mb=1, max_files=1, accepts_text=True, accepts_files=False,
        is_returnable=False)
    handbook = (media_root / DEMO_PDF[0]).read_bytes()
    for username, state in HOMEWORK_STATES.items():
        learner = db.session.execute(select(User).where(User.username == username)).scalar_one()
        text = f"{learner.real_name}的教学设计：以《认识图形》为例，用电子白板展示生活中的图形。"
        sub = homework.check_save(learner, main, cls, text=text,
                                  uploads=[homework.Upload("教学设计.pdf", io.BytesIO(handbook))],
                                  submit=state != "draft")
        if state == "returned":
            homework.check_return(tutor, sub, "请补充技术工具在课堂中的具体使用环节。")
        elif state in ("graded", "recommended"):
            homework.check_grade(tutor, sub, 92 if state == "recommended" else 85, "设计完整，环节清楚。")
            if state == "recommended":
                homework.check_recommend(tutor, sub, True)
    db.session.flush()
    from app.homework import briefs

    stats = briefs.get_class_stats(cls)
    briefs.do_save_brief(cls, tutor, None, title="东湖县一班学习简报（第一期）",
                         body=briefs.stats_markdown(stats) + "\n本周大家积极参与，请还没有开始学习的老师抓紧时间。\n",
                         publish=True)


#: the learners of the second class: learner51 … learner60
SECOND_LEARNERS = range(LEARNER_COUNT + 1, LEARNER_COUNT + 11)


def load_second_class(project, school, center):
    """A second class of the project at another school, with its own staff and learners, sharing the learning center.

    Staff of each class see their own class only: the demo shows the isolation between classes and schools.
    """
    from app.accounts.service import do_assign_role
    from app.classrooms.models import Class_
    from app.classrooms.service import do_create_class
    from app.courses.service import do_enroll

    cls = db.session.execute(
        select(Class_).where(Class_.project_id == project.id, Class_.name == SECOND_CLASS)).scalar_one_or_none()
    if cls is None:
        cls = do_create_class(project, SECOND_CLASS, school, learning_center=center, subject="综合", stage="primary")
    tutor = _get_or_create_user("tutor2", DEMO_PASSWORDS["staff"], real_name="赵老师（辅导教师）", school=school)
    do_assign_role(tutor, "tutor", class_=cls)
    manager = _get_or_create_user("manager2", DEMO_PASSWORDS["staff"], real_name="陈老师（班主任）", school=school)
    do_assign_role(manager, "class_manager", class_=cls)
    for i in SECOND_LEARNERS:
        learner = _get_or_create_user(
            f"learner{i}", DEMO_PASSWORDS["learner"], real_name=f"学员{i:02d}", teacher_no=f"DEMO{i:05d}",
            phone=f"139{i:08d}", school=school, subject="语文" if i % 2 else "数学", stage="primary",
        )
        do_enroll(learner, project)
        do_assign_role(learner, "learner", class_=cls)
    return cls


#: group viewings the second class already held at the learning center: (days ago, local start hour, learners
#: present as (number, minutes after the start they checked in, minutes they stayed or None to the end), minutes played)
GROUP_HISTORY = (
    (12, 14, ((51, 0, None), (52, 0, None), (53, 1, None), (54, 0, 3), (55, 2, None), (56, 0, None)), 5),
    (5, 9, ((51, 0, None), (52, 0, 4), (57, 0, None), (58, 1, None), (59, 0, None), (60, 3, None)), 5),
)


def load_group_history(class_id: int, center_id: int) -> None:
    """Group viewings already held by manager2 with the second class at the learning center (once).

    They are played through the real crediting (the projector's heartbeats every 15 s, check-ins
    and check-outs at their moments) on a clock set to those days, so attendance, progress and
    audit agree exactly as they would for a real session.
    """
    from app.accounts.models import User
    from app.classrooms.models import Class_
    from app.classrooms.service import do_start_group, get_class_lessons
    from app.tracking import group
    from app.tracking.models import GroupSession
    from app.tracking.service import HeartbeatInput, check_heartbeat

    if db.session.execute(select(GroupSession.id).where(GroupSession.class_id == class_id)).first():
        return
    cls = db.session.get(Class_, class_id)
    lessons = [lesson for lesson in get_class_lessons(cls) if lesson.kind == "video"]
    lesson = max(lessons, key=lambda x: x.duration_s or 0)
    manager = db.session.execute(select(User).where(User.username == "manager2")).scalar_one()
    users = {u.username: u for u in db.session.execute(select(User).where(User.username.like("learner%"))).scalars()}
    real_now = clock.now()
    previous = clock.get_source()
    zone = ZoneInfo(cls.project.timezone)
    try:
        for days_ago, hour, present, minutes in GROUP_HISTORY:
            day = (real_now.astimezone(zone) - timedelta(days=days_ago)).date()
            start = datetime.combine(day, time(hour, 0), zone).astimezone(timezone.utc)
            moment = [start]
            clock.set_source(lambda: moment[0])
            opened = do_start_group(manager, cls, lesson.id)
            gs = group.get_group(opened["group_session_id"])
            events = []
            for number, at_min, stay_min in present:
                events.append((at_min * 60, "in", number))
                if stay_min is not None:
                    events.append(((at_min + stay_min) * 60, "out", number))
            seconds = min(minutes * 60, int(lesson.duration_s) - 1)
            seq = 0
            for t in range(0, seconds + 1, 15):
                for when, what, number in sorted(events):
                    if t - 15 < when <= t:
                        moment[0] = start + timedelta(seconds=when)
                        learner = users[f"learner{number}"]
                        if what == "in":
                            group.do_check_in(gs, learner, method="manager" if number % 3 == 0 else "self",
                                              by_id=manager.id if number % 3 == 0 else learner.id,
                                              code=group.get_checkin(gs, moment[0])["code"])
                        else:
                            group.do_check_out(gs, learner.id, "self")
                moment[0] = start + timedelta(seconds=t)
                seq += 1
                check_heartbeat(manager.id, opened["session_id"], HeartbeatInput(
                    seq=seq, position_s=float(t), playing=t < seconds, visible=True, rate=1.0,
                    event="play" if t == 0 else ("pause" if t + 15 > seconds else "tick")))
            moment[0] = start + timedelta(seconds=seconds + 30)
            group.do_end_group(group.get_group(gs.id))
    finally:
        clock.set_source(previous)


@click.command("demo")
@with_appcontext
def demo_command():
    """Load the demo data set (idempotent; refused in production unless XUESHI_ALLOW_DEMO=1)."""
    if not current_app.config.get("DEMO_ALLOWED"):
        raise click.ClickException("The demo data set is not loaded in production (set XUESHI_ALLOW_DEMO=1 to force).")
    media_root = Path(current_app.config["MEDIA_ROOT"])
    load_demo(media_root)
    ensure_demo_ladder(media_root)
    click.echo("demo data ready: admin/demo-admin, tutor1 manager1 tutor2 manager2 expert1 eastadmin westadmin/demo-staff, "
               "learner1..60 and visitor1/demo-learner; "
               f"learner1 can finish {SHORT_PROJECT_TITLE} ({SHORT_PROJECT_HOURS} 学时) in minutes")
