"""Documents in the media pipeline: a PDF's pages are counted at upload; slides and Word documents are converted to
PDF with LibreOffice headless when it is installed (a real conversion, not a fake `soffice`), and are otherwise
kept as a download that the reader page explains is not credited."""
import zipfile
from pathlib import Path

import pytest

from app.extensions import db
from app.media.models import MediaAsset
from app.media.transcode import which_soffice
from tests.conftest import bearer

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)


def make_docx(path: Path, pages: int) -> Path:
    """Write a minimal Word document of `pages` pages (page breaks between them), zipped by hand."""
    runs = '<w:p><w:r><w:br w:type="page"/></w:r></w:p>'.join(
        f"<w:p><w:r><w:t>教师培训讲义 page {n}</w:t></w:r></w:p>" for n in range(1, pages + 1))
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                f"<w:body>{runs}</w:body></w:document>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("word/document.xml", document)
    return path


def _asset(client, token, media_id) -> dict:
    return client.get(f"/api/v1/media/{media_id}", headers=bearer(token)).get_json()


def test_a_pdf_upload_counts_its_pages(client, zoo, staff_token, upload_media, media_course):
    lesson = media_course.modules[0].lessons[0]
    media_id = upload_media(staff_token, zoo.path("pdf_handout"), filename="h.pdf", lesson=lesson).get_json()["media_id"]
    assert _asset(client, staff_token, media_id)["state"] == "done"
    asset = db.session.get(MediaAsset, media_id)
    assert asset.pdf_key == asset.source_key and asset.page_count >= 1
    db.session.refresh(lesson)
    assert (lesson.kind, lesson.page_count) == ("document", asset.page_count)


def test_a_word_document_is_converted_to_pdf_with_libreoffice(client, tmp_path, staff_token, upload_media,
                                                               media_course):
    if which_soffice() is None:
        pytest.fail("LibreOffice is not installed: deploy/ensure-system-packages.sh installs it")
    lesson = media_course.modules[0].lessons[0]
    source = make_docx(tmp_path / "讲义.docx", pages=3)
    media_id = upload_media(staff_token, source, lesson=lesson).get_json()["media_id"]
    status = _asset(client, staff_token, media_id)
    assert (status["state"], status["kind"]) == ("done", "document"), status
    asset = db.session.get(MediaAsset, media_id)
    assert asset.pdf_key.endswith("/document.pdf") and asset.pdf_key != asset.source_key
    assert asset.page_count == 3
    db.session.refresh(lesson)
    assert lesson.page_count == 3
    signed = client.get(f"/api/v1/lessons/{lesson.id}/media", headers=bearer(staff_token)).get_json()
    assert signed["pdf_url"] and signed["document_url"] and signed["pdf_url"] != signed["document_url"]
    pdf = client.get(signed["pdf_url"])
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")


@pytest.mark.config(SOFFICE_BINARY="/nonexistent/soffice")
def test_without_libreoffice_a_word_document_stays_a_download(client, tmp_path, staff_token, upload_media,
                                                              media_course):
    lesson = media_course.modules[0].lessons[0]
    media_id = upload_media(staff_token, make_docx(tmp_path / "notes.docx", pages=1), lesson=lesson
                            ).get_json()["media_id"]
    assert _asset(client, staff_token, media_id)["state"] == "done"
    asset = db.session.get(MediaAsset, media_id)
    assert (asset.pdf_key, asset.page_count) == (None, None)
    signed = client.get(f"/api/v1/lessons/{lesson.id}/media", headers=bearer(staff_token)).get_json()
    assert signed["pdf_url"] is None and signed["document_url"]
