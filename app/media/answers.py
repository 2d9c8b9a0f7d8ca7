"""The media API's bodies, headers and answers as pydantic models: the OpenAPI document describes them."""
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


class MediaForm(BaseModel):
    """multipart/form-data: the file and the course (and lesson) it is for."""

    course_id: Id
    lesson_id: Id | None = None
    file: bytes


class MediaAccepted(BaseModel):
    media_id: int
    job_id: int
    state: str
    status_url: str


class RenditionStatus(BaseModel):
    label: str | None
    width: int | None
    height: int | None
    bitrate: int | None
    size_bytes: int | None
    checksum: str | None
    content_type: str | None
    duration_s: float | None


class MediaStatus(BaseModel):
    media_id: int
    job_id: int | None
    course_id: int
    lesson_id: int | None
    filename: str
    kind: str | None
    state: str
    progress: float
    error: str | None
    error_code: str | None
    error_detail: str | None
    attempt: int
    duration_s: float | None
    width: int | None
    height: int | None
    content_type: str | None
    size_bytes: int | None
    checksum: str | None
    is_playable: bool
    renditions: list[RenditionStatus]
    has_poster: bool
    created_at: datetime | None


class CourseMedia(BaseModel):
    media: list[MediaStatus]


class TusHeaders(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    tus_resumable: Literal["1.0.0"] = Field(alias="Tus-Resumable")


class TusCreateHeaders(TusHeaders):
    upload_length: int = Field(alias="Upload-Length", ge=1, le=2**63 - 1, description="the file's size in bytes")
    upload_metadata: str = Field(alias="Upload-Metadata", description="tus metadata: filename, course_id, lesson_id "
                                                                      "(comma-separated `key base64value`)")


class TusPatchHeaders(TusHeaders):
    upload_offset: int = Field(alias="Upload-Offset", ge=0, le=2**63 - 1, description="where these bytes go")


class UploadPath(BaseModel):
    upload_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class UploadBytes(RootModel[bytes]):
    """The next bytes of the file (application/offset+octet-stream)."""


class UploadOut(BaseModel):
    id: str
    offset: int
    size_bytes: int
    is_complete: bool
    filename: str
    media_id: int | None
    job_id: int | None
    expires_at: datetime


class LessonMediaQuery(BaseModel):
    project_id: Id | None = Field(None, description="check enrolment in this project only")


class SignedRendition(BaseModel):
    height: int | None
    width: int | None
    bitrate: int | None
    label: str | None
    content_type: str | None
    url: str | None


class LessonMediaOut(BaseModel):
    renditions: list[SignedRendition]
    poster_url: str | None
    document_url: str | None
    #: the PDF the app's reader shows (None: the document is offered as a download only)
    pdf_url: str | None = None
    expires_at: datetime
    ttl_s: int
    state: str | None
