"""Bulk import of teachers from CSV or XLSX, the import templates, and formula-safe exports.

Reading is defensive: the file size is capped, a zip's declared sizes and compression
ratios are checked before openpyxl opens it (zipfile never unpacks more than an entry
declares), content decides the format (not the file name), and every row is validated
before anything is written: one wrong row and nothing is imported.
"""
import csv
import io
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.accounts import auth
from app.accounts.models import OrgUnit, User
from app.common.permissions import in_scope
from app.accounts.service import PHONE_RE, STAGES, USERNAME_RE, generate_password, hash_bulk_secret
from app.common.exceptions import Invalid
from app.extensions import db

MAX_ROWS = 5000
MAX_COLUMNS = 30
MAX_ZIP_ENTRIES = 1000
#: an entry that unpacks more than this many times its packed size is a zip bomb, not a worksheet
MAX_COMPRESSION_RATIO = 200
RATIO_CHECK_MIN_BYTES = 1024 * 1024

COLUMNS = ("username", "real_name", "teacher_no", "phone", "school_code", "subject", "stage", "password")
REQUIRED = ("username", "real_name", "teacher_no", "school_code")
CHINESE_HEADERS = {
    "username": "用户名", "real_name": "姓名", "teacher_no": "教师编号", "phone": "手机",
    "school_code": "学校代码", "subject": "学科", "stage": "学段", "password": "密码",
}
_ALIASES = {
    "username": ("username", "用户名", "账号", "登录名"),
    "real_name": ("real_name", "realname", "name", "姓名", "真实姓名"),
    "teacher_no": ("teacher_no", "teacherno", "teacher_number", "教师编号", "教师号"),
    "phone": ("phone", "mobile", "手机", "手机号", "手机号码"),
    "school_code": ("school_code", "schoolcode", "学校代码", "学校编码", "单位代码"),
    "subject": ("subject", "学科"),
    "stage": ("stage", "学段"),
    "password": ("password", "密码", "初始密码"),
}
STAGE_ALIASES = {
    "幼儿园": "kindergarten", "学前": "kindergarten", "小学": "primary", "初中": "junior", "高中": "senior",
    "中职": "vocational", "职高": "vocational", "职业": "vocational",
}
MAX_LENGTHS = {"username": 64, "real_name": 64, "teacher_no": 32, "subject": 40, "school_code": 40, "password": 128}
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Return a value safe to put in a spreadsheet cell: text that starts like a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def column_labels() -> dict[str, str]:
    return {
        "username": _("Username"), "real_name": _("Real name"), "teacher_no": _("Teacher number"),
        "phone": _("Mobile phone"), "school_code": _("School code"), "subject": _("Subject"), "stage": _("Stage"),
        "password": _("Password"), "": _("File"),
    }


def _normalise_header(value) -> str:
    text = str(value or "").strip().lstrip("\ufeff").strip().lower()
    text = re.sub(r"[\s*＊（）()]|必填|选填|optional|required", "", text)
    return text.replace("-", "_")


_HEADER_MAP = {_normalise_header(alias): column for column, aliases in _ALIASES.items() for alias in aliases}
_HEADER_MAP.update({_normalise_header(a).replace("_", ""): c for c, aliases in _ALIASES.items() for a in aliases})


# ---------------------------------------------------------------- reading a file
class ImportRefused(Invalid):
    """The file as a whole cannot be used (size, format, damage, columns, row count)."""

    code = "import_file"


@dataclass
class Table:
    columns: dict[int, str]  # position -> column name
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row number, values)
    ignored_headers: list[str] = field(default_factory=list)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).replace("\u200b", "").strip()


def _describe(data: bytes) -> str | None:
    """Name the real format of some bytes, for the error message (None when unknown)."""
    try:
        import puremagic

        matches = puremagic.magic_string(data[:4096])
    except Exception:  # unknown content
        return None
    return matches[0].name if matches else None


def _decode_csv(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # what Excel saves as "CSV" on a Chinese Windows
    except UnicodeDecodeError:
        raise ImportRefused(_("The CSV file is neither UTF-8 nor GB18030 text. Save it again as "
                              "\"CSV UTF-8\" and retry."))


def _read_csv(data: bytes) -> list[tuple[int, list[str]]]:
    if b"\x00" in data[:65536]:
        kind = _describe(data)
        raise ImportRefused(_("This is not a CSV text file (it looks like: %(kind)s).", kind=kind or _("binary data")))
    text = _decode_csv(data)
    first_line = text.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(first_line, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), 1):
            rows.append((number, [c.strip() for c in cells[:MAX_COLUMNS]]))
            if len(rows) > MAX_ROWS * 2 + 10:
                break
    except csv.Error as exc:
        raise ImportRefused(_("The CSV file could not be read near line %(n)d: %(reason)s", n=len(rows) + 1,
                              reason=str(exc)))
    return rows


def check_xlsx_archive(data: bytes, max_unpacked: int) -> None:
    """Refuse a workbook whose zip is damaged, too big once unpacked, or packed suspiciously well."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except Exception:  # BadZipFile, NotImplementedError (odd versions), OSError, ...: all mean "unreadable"
        raise ImportRefused(_("The Excel file is damaged and cannot be opened. Save it again as .xlsx and retry."))
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ImportRefused(_("The Excel file has too many parts to be a worksheet of teachers."))
    total = sum(e.file_size for e in entries)
    if total > max_unpacked:
        raise ImportRefused(_("The Excel file unpacks to more than %(mb)d MB. Split it into smaller files.",
                              mb=max_unpacked // (1024 * 1024)))
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise ImportRefused(_("The Excel file is password-protected. Remove the password and retry."))
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ImportRefused(_("The Excel file uses an unknown compression; save it again with Excel."))
        if entry.file_size > RATIO_CHECK_MIN_BYTES and entry.file_size > MAX_COMPRESSION_RATIO * max(entry.compress_size, 1):
            raise ImportRefused(_("The Excel file is packed suspiciously tightly and was refused. "
                                  "Save it again with Excel or as CSV."))
    names = {e.filename for e in entries}
    if "xl/workbook.xml" not in names:
        raise ImportRefused(_("This zip file is not an Excel workbook (.xlsx)."))


def _read_xlsx(data: bytes, max_unpacked: int) -> list[tuple[int, list[str]]]:
    check_xlsx_archive(data, max_unpacked)
    import openpyxl

    rows = []
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), 1):
                rows.append((number, [_cell_text(v) for v in values]))
                if len(rows) > MAX_ROWS * 2 + 10:
                    break
        finally:
            workbook.close()
    except ImportRefused:
        raise
    except Exception:  # openpyxl raises many kinds of errors on damaged files
        raise ImportRefused(_("The Excel file is damaged and cannot be read. Save it again as .xlsx and retry."))
    return rows


def read_table(filename: str, data: bytes, *, max_bytes: int, max_unpacked: int, max_rows: int = MAX_ROWS) -> Table:
    """Read an uploaded CSV or XLSX into a Table; ImportRefused with a clear message otherwise."""
    name = (filename or "").lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    if extension not in ("csv", "txt", "xlsx"):
        if extension == "xls":
            raise ImportRefused(_("The old .xls format is not supported. Save the file as .xlsx or CSV."))
        raise ImportRefused(_("Upload a .csv or .xlsx file."))
    if not data:
        raise ImportRefused(_("The file is empty."))
    if len(data) > max_bytes:
        raise ImportRefused(_("The file is larger than %(mb)s MB. Split it into smaller files.",
                              mb=round(max_bytes / (1024 * 1024), 1)))
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        raw = _read_xlsx(data, max_unpacked)
    elif extension == "xlsx":
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            raise ImportRefused(_("This is an old .xls workbook renamed .xlsx. Save it as .xlsx or CSV in Excel."))
        kind = _describe(data)
        raise ImportRefused(_("This is not an Excel .xlsx file (it looks like: %(kind)s).",
                              kind=kind or _("unknown data")))
    else:
        raw = _read_csv(data)
    return _to_table(raw, max_rows)


def _to_table(raw: list[tuple[int, list[str]]], max_rows: int) -> Table:
    header_at = next((i for i, (_n, cells) in enumerate(raw) if any(cells)), None)
    if header_at is None:
        raise ImportRefused(_("The file has no header row and no teachers."))
    columns: dict[int, str] = {}
    ignored = []
    for position, cell in enumerate(raw[header_at][1]):
        if not cell:
            continue
        column = _HEADER_MAP.get(_normalise_header(cell)) or _HEADER_MAP.get(_normalise_header(cell).replace("_", ""))
        if column is None:
            ignored.append(cell)
            continue
        if column in columns.values():
            raise ImportRefused(_("The column %(name)s appears twice in the header row.", name=cell))
        columns[position] = column
    missing = [c for c in REQUIRED if c not in columns.values()]
    if missing:
        labels = column_labels()
        raise ImportRefused(_("The header row lacks the columns: %(names)s. Download the template to see the layout.",
                              names=", ".join(f"{labels[c]} ({c} / {CHINESE_HEADERS[c]})" for c in missing)))
    rows = []
    for number, cells in raw[header_at + 1:]:
        if not any(cells):
            continue
        rows.append((number, {column: (cells[pos] if pos < len(cells) else "") for pos, column in columns.items()}))
        if len(rows) > max_rows:
            raise ImportRefused(_("The file has more than %(n)d teachers. Split it into smaller files.", n=max_rows))
    if not rows:
        raise ImportRefused(_("The file has a header row but no teachers."))
    return Table(columns, rows, ignored)


# ---------------------------------------------------------------- validating rows
@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass
class ImportRow:
    row: int
    username: str
    real_name: str
    teacher_no: str
    phone: str | None
    school_id: int
    subject: str | None
    stage: str | None
    password: str
    is_generated: bool


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _normalise_phone(value: str) -> str:
    phone = re.sub(r"[\s\-()（）]", "", value)
    if phone.startswith("+86"):
        phone = phone[3:]
    return phone


def check_rows(table: Table, admin, *, area: OrgUnit | None = None) -> tuple[list[ImportRow], list[RowError]]:
    """Validate every row against the file, the database and the admin's scope; return rows and errors.

    area: the org unit of the training project the teachers will be enrolled in; every school must lie within it.
    """
    errors: list[RowError] = []
    parsed: list[dict] = []
    for number, values in table.rows:
        row = {c: values.get(c, "") for c in COLUMNS}
        row["row"] = number
        ok = True
        for column in REQUIRED:
            if not row[column]:
                errors.append(RowError(number, column, _("Required: this cell is empty.")))
                ok = False
        for column, limit in MAX_LENGTHS.items():
            if len(row[column]) > limit:
                errors.append(RowError(number, column, _("At most %(n)d characters.", n=limit)))
                ok = False
        if row["username"] and not USERNAME_RE.match(row["username"]):
            errors.append(RowError(number, "username", _("Use 3–64 letters, digits, dot, dash or underscore.")))
            ok = False
        if row["phone"]:
            row["phone"] = _normalise_phone(row["phone"])
            if not PHONE_RE.match(row["phone"]):
                errors.append(RowError(number, "phone", _("%(phone)s is not an 11-digit mobile number.", phone=values.get("phone", ""))))
                ok = False
        if row["stage"]:
            stage = STAGE_ALIASES.get(row["stage"], row["stage"].lower())
            if stage not in STAGES:
                errors.append(RowError(number, "stage", _("Unknown stage %(stage)s: use one of %(list)s.",
                                                         stage=row["stage"], list=", ".join(STAGES + tuple(STAGE_ALIASES)))))
                ok = False
            row["stage"] = stage
        if row["password"] and (problem := auth.password_problem(row["password"])) is not None:
            errors.append(RowError(number, "password", problem))
            ok = False
        row["ok"] = ok
        parsed.append(row)

    # Duplicates inside the file.
    first_seen: dict[tuple[str, str], int] = {}
    for row in parsed:
        for column, key in (("username", row["username"].lower()), ("teacher_no", row["teacher_no"])):
            if not key:
                continue
            earlier = first_seen.setdefault((column, key), row["row"])
            if earlier != row["row"]:
                errors.append(RowError(row["row"], column, _("Also in row %(n)d of this file.", n=earlier)))

    # Duplicates in the database, and the schools.
    usernames = sorted({r["username"].lower() for r in parsed if r["username"]})
    teacher_nos = sorted({r["teacher_no"] for r in parsed if r["teacher_no"]})
    codes = sorted({r["school_code"] for r in parsed if r["school_code"]})
    taken_usernames: set[str] = set()
    for chunk in _chunks(usernames):
        taken_usernames.update(db.session.execute(
            select(func.lower(User.username)).where(func.lower(User.username).in_(chunk))).scalars())
    taken_numbers: set[str] = set()
    for chunk in _chunks(teacher_nos):
        taken_numbers.update(db.session.execute(select(User.teacher_no).where(User.teacher_no.in_(chunk))).scalars())
    units: dict[str, OrgUnit] = {}
    for chunk in _chunks(codes):
        units.update({u.code: u for u in db.session.execute(select(OrgUnit).where(OrgUnit.code.in_(chunk))).scalars()})

    rows: list[ImportRow] = []
    for row in parsed:
        number = row["row"]
        if row["username"] and row["username"].lower() in taken_usernames:
            errors.append(RowError(number, "username", _("The username %(name)s is taken.", name=row["username"])))
        if row["teacher_no"] and row["teacher_no"] in taken_numbers:
            errors.append(RowError(number, "teacher_no",
                                   _("The teacher number %(no)s is already registered.", no=row["teacher_no"])))
        unit = units.get(row["school_code"]) if row["school_code"] else None
        if row["school_code"] and unit is None:
            errors.append(RowError(number, "school_code", _("No org unit has the code %(code)s.", code=row["school_code"])))
        elif unit is not None and not in_scope(admin, unit):
            errors.append(RowError(number, "school_code",
                                   _("The school %(code)s is outside the area you administer.", code=unit.code)))
        elif unit is not None and area is not None and not unit.path.startswith(area.path):
            errors.append(RowError(number, "school_code",
                                   _("%(name)s is outside the area of the training project.", name=unit.name)))
        if unit is not None:
            password = row["password"] or ""
            rows.append(ImportRow(number, row["username"], row["real_name"], row["teacher_no"], row["phone"] or None,
                                  unit.id, row["subject"] or None, row["stage"] or None, password, not password))
    errors.sort(key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else -1))
    return (rows if not errors else []), errors


def prepare_passwords(rows: list[ImportRow]) -> list[str]:
    """Fill in generated passwords and return the hashes, in row order (slow: before the write transaction)."""
    hashes = []
    for row in rows:
        if row.is_generated:
            row.password = generate_password()
        hashes.append(hash_bulk_secret(row.password))
    return hashes


def do_import(rows: list[ImportRow], hashes: list[str]) -> list[User]:
    """Insert the checked rows (inside one write transaction); return the new users, their passwords expired."""
    users = [
        User(username=r.username, real_name=r.real_name, teacher_no=r.teacher_no, phone=r.phone, school_id=r.school_id,
             subject=r.subject, stage=r.stage, password_hash=h, password_change_reason="new")
        for r, h in zip(rows, hashes)
    ]
    db.session.add_all(users)
    db.session.flush()
    return users


# ---------------------------------------------------------------- templates and exports
def template_headers(chinese: bool) -> list[str]:
    return [CHINESE_HEADERS[c] if chinese else c for c in COLUMNS]


def csv_bytes(header: list[str], rows) -> bytes:
    """CSV in UTF-8 with a BOM (Excel on Windows then shows Chinese correctly), every cell formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(sheets: list[tuple[str, list[str], object]]) -> bytes:
    """An XLSX of (sheet name, header, rows) written row by row (constant memory), formulas never evaluated."""
    import xlsxwriter

    with tempfile.TemporaryDirectory() as tmp:
        output = io.BytesIO()
        workbook = xlsxwriter.Workbook(output, {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "tmpdir": tmp,
        })
        bold = workbook.add_format({"bold": True})
        text = workbook.add_format({"num_format": "@"})
        for name, header, rows in sheets:
            sheet = workbook.add_worksheet(name[:31])
            sheet.set_column(0, max(len(header) - 1, 0), 18, text)
            sheet.write_row(0, 0, [safe_cell(h) for h in header], bold)
            for index, row in enumerate(rows, 1):
                for col, value in enumerate(row):
                    value = safe_cell(value)
                    if value is None:
                        continue
                    if isinstance(value, str):
                        sheet.write_string(index, col, value)
                    else:
                        sheet.write(index, col, value)
        workbook.close()
        return output.getvalue()


def template_help_rows() -> list[list[str]]:
    labels = column_labels()
    required = set(REQUIRED)
    notes = {
        "username": _("3–64 letters, digits, dot, dash or underscore; unique."),
        "teacher_no": _("Unique across the site."),
        "phone": _("11-digit mobile number."),
        "school_code": _("The code of the school (or other org unit) in Xueshi."),
        "stage": _("kindergarten, primary, junior, senior, vocational (or 幼儿园, 小学, 初中, 高中, 中职)."),
        "password": _("Optional: left empty, a password is generated and shown once after the import."),
    }
    return [[c, CHINESE_HEADERS[c], labels[c], _("required") if c in required else _("optional"), notes.get(c, "")]
            for c in COLUMNS]


EXPORT_COLUMNS = ("username", "real_name", "teacher_no", "phone", "school_code", "school", "subject", "stage", "active")


def export_rows(users) -> list[list]:
    return [[u.username, u.real_name, u.teacher_no, u.phone, u.school.code if u.school else None,
             u.school.name if u.school else None, u.subject, u.stage, "1" if u.is_active else "0"] for u in users]
