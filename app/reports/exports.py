"""The hour-registration export (学时登记): the same rows as XLSX or CSV, written to a file object.

XLSX is written by xlsxwriter in constant-memory mode with formulas, URLs and
numbers-from-strings off, and text that a spreadsheet would run as a formula
(starting with = + - @) kept as text with a quote prefix. CSV is UTF-8 with a
BOM (so Excel in Chinese opens it) and such text gets a leading apostrophe.
The workbook's creation time is the app clock's, so that a file written now
by a job and one streamed now are the same bytes.
"""
from __future__ import annotations

import csv
import io
import logging
import re
import secrets
from datetime import timedelta
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import xlsxwriter
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.accounts.models import OrgUnit, User
from app.classrooms.models import Class_
from app.common import clock
from app.common.db import write_transaction
from app.courses.models import Project
from app.extensions import db
from app.reports import jobs, rules, service
from app.reports.models import ReportExport
from app.reports.service import LearnerRow, Scope

log = logging.getLogger(__name__)

HEADERS = (_l("Full name"), _l("Teacher number"), _l("Cell phone"), _l("School"), _l("District or county"),
           _l("Project name"), _l("Hours credited"), _l("Hours required"), _l("Completed?"), _l("Last day of study"),
           _l("Score"), _l("Level"), _l("Certificate number"))
MEDIA_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "csv": "text/csv; charset=utf-8"}
#: report progress to the callback every this many rows
PROGRESS_EVERY = 1000


#: the reserved columns at the end of a line (score, level, certificate number): empty for now
RESERVED = 3


class _Line:
    """The values of learners' lines of one export; what is the same on every line is read once."""

    def __init__(self, scope: Scope, yes: str, no: str):
        project = scope.project
        self.title, self.required_hours, self.minutes = project.title, project.required_hours, project.minutes_per_hour
        self.required_ms, self.yes, self.no = scope.required_ms, yes, no

    def values(self, row: LearnerRow) -> list:
        """The filled cells of the line, in HEADERS order (without the reserved columns)."""
        return [row.name, row.teacher_no or "", row.phone or "", row.school, row.county, self.title,
                rules.hours(row.credited_ms, self.minutes), self.required_hours,
                self.yes if rules.is_complete(row.credited_ms, self.required_ms) else self.no,
                row.last_day.isoformat() if row.last_day else ""]


#: what a file name may not hold on Windows, macOS or Linux (and control characters)
_NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def file_name(scope: Scope, fmt: str) -> str:
    """The download's name: project, unit or class, "hour registration" and the project's calendar day
    (the day its dashboard says "as of"), e.g. 2026年度培训-东城区-学时登记-20261205.xlsx."""
    day = service.project_today(scope.project).strftime("%Y%m%d")
    parts = [_NOT_IN_FILE_NAMES.sub("_", text).strip(" ._")[:40]
             for text in (scope.project.title, scope.name, _("Hour registration"))]
    return "-".join([p for p in parts if p] + [day]) + f".{fmt}"


def write(fmt: str, out: BinaryIO, scope: Scope, rows: Iterable[LearnerRow], *, yes: str, no: str,
          progress: Callable[[int], None] | None = None) -> int:
    """Write the export to out; return the number of learner rows."""
    writer = _write_xlsx if fmt == "xlsx" else _write_csv
    return writer(out, scope, rows, yes, no, progress or (lambda n: None))


def _write_xlsx(out: BinaryIO, scope: Scope, rows, yes, no, progress) -> int:
    workbook = xlsxwriter.Workbook(out, {
        "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
        "strings_to_numbers": False, "in_memory": False})
    workbook.set_properties({"created": clock.now().replace(tzinfo=None), "title": scope.project.title})
    sheet = workbook.add_worksheet()
    bold = workbook.add_format({"bold": True})
    quoted = workbook.add_format({"quote_prefix": True})
    sheet.write_row(0, 0, [str(h) for h in HEADERS], bold)
    sheet.set_column(0, 5, 16)
    sheet.set_column(6, 12, 11)
    line = _Line(scope, yes, no)
    write_string, write_number, is_formula_like = sheet.write_string, sheet.write_number, rules.is_formula_like
    count = 0
    for count, row in enumerate(rows, 1):
        for col, value in enumerate(line.values(row)):
            if value == "":
                continue  # an empty cell
            if isinstance(value, str):
                write_string(count, col, value, quoted if is_formula_like(value) else None)
            else:
                write_number(count, col, value)
        if count % PROGRESS_EVERY == 0:
            progress(count)
    workbook.close()
    progress(count)
    return count


def _write_csv(out: BinaryIO, scope: Scope, rows, yes, no, progress) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow([str(h) for h in HEADERS])
    line, reserved = _Line(scope, yes, no), [""] * RESERVED
    count = 0
    for count, row in enumerate(rows, 1):
        writer.writerow([rules.inert(v) for v in line.values(row)] + reserved)
        if count % PROGRESS_EVERY == 0:
            progress(count)
    text.flush()
    text.detach()
    progress(count)
    return count


# ----------------------------------------------------------------- background exports

def export_dir() -> Path:
    configured = current_app.config.get("REPORTS_EXPORT_DIR")
    path = Path(configured) if configured else Path(current_app.config["HUEY_SQLITE_PATH"]).parent / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_background(row_count: int) -> bool:
    return row_count > int(current_app.config.get("REPORTS_ASYNC_ROWS", 10000))


def do_sweep_exports() -> int:
    """Delete the files of background exports finished more than REPORTS_EXPORT_TTL_H hours ago.

    The rows stay (who exported what, and when) without a file: their page says the file has expired.
    Files no row names any more (a worker killed while writing) go too, unless their export is still
    queued or running. Returns the number of files deleted.
    """
    cutoff = clock.now() - timedelta(hours=float(current_app.config.get("REPORTS_EXPORT_TTL_H", 24)))
    folder = export_dir()
    deleted = 0
    with write_transaction():
        expired = db.session.execute(select(ReportExport).where(
            ReportExport.file_name.is_not(None), ReportExport.finished_at < cutoff)).scalars().all()
        for export in expired:
            (folder / export.file_name).unlink(missing_ok=True)
            export.file_name = None
            deleted += 1
    kept = set(db.session.execute(select(ReportExport.file_name).where(ReportExport.file_name.is_not(None))).scalars())
    busy = {str(i) for i in db.session.execute(select(ReportExport.id).where(
        ReportExport.status.in_(("queued", "running")))).scalars()}
    for path in folder.iterdir():
        if path.is_file() and path.name not in kept and path.name.split("-", 1)[0] not in busy:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def do_queue_export(user: User, scope: Scope, fmt: str, row_count: int, locale: str) -> ReportExport:
    """Record an export for a background job and queue it (the caller has checked the permission).

    Old exports' files are swept first, so the folder never grows without bound.
    """
    do_sweep_exports()
    with write_transaction():
        export = ReportExport(user_id=user.id, project_id=scope.project.id, format=fmt, rows_total=row_count,
                              locale=locale,
                              org_unit_id=scope.unit.id if scope.unit is not None else None,
                              class_id=scope.cls.id if scope.cls is not None else None)
        db.session.add(export)
    jobs.enqueue_export(export.id)
    return export


def get_export(export_id: int) -> ReportExport | None:
    return db.session.get(ReportExport, export_id)


def export_scope(export: ReportExport) -> Scope:
    project = db.session.get(Project, export.project_id)
    if export.class_id is not None:
        return Scope(project, cls=db.session.get(Class_, export.class_id))
    return Scope(project, unit=db.session.get(OrgUnit, export.org_unit_id))


def export_path(export: ReportExport) -> Path | None:
    return export_dir() / export.file_name if export.file_name else None


def _set(export_id: int, **values) -> None:
    """Update the export's row on a connection of its own (the session's cursor is still reading rows)."""
    with db.engine.begin() as conn:
        conn.execute(update(ReportExport).where(ReportExport.id == export_id).values(**values))


def do_run_export(export_id: int) -> str:
    """Write a queued export's file, counting its rows as it goes; return its final status."""
    export = get_export(export_id)
    if export is None or export.status == "done":
        return "missing" if export is None else export.status
    scope = export_scope(export)
    _set(export_id, status="running", rows_done=0)
    name = f"{export.id}-{secrets.token_hex(8)}-{file_name(scope, export.format)}"
    target = export_dir() / name
    try:
        with force_locale(export.locale):
            yes, no = _("Yes"), _("No")
            with open(target, "wb") as out:
                count = write(export.format, out, scope, service.iter_export_rows(scope), yes=yes, no=no,
                              progress=lambda n: _set(export_id, rows_done=n))
    except Exception:
        log.exception("report export %s failed", export_id)
        db.session.rollback()
        target.unlink(missing_ok=True)
        _set(export_id, status="failed", finished_at=clock.now())
        return "failed"
    _set(export_id, status="done", rows_done=count, rows_total=count, file_name=name, finished_at=clock.now())
    return "done"
