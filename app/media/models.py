"""Media: uploaded sources, their web renditions, transcode jobs and resumable uploads."""
from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.common.tus import UploadProgress
from app.common.types import UTCDateTime
from app.extensions import db

ASSET_KINDS = ("pending", "video", "audio", "document")
JOB_STATES = ("queued", "running", "done", "failed")
#: documents a browser shows inline; the others (Word, PowerPoint) are offered as a download
INLINE_DOCUMENT_TYPES = ("application/pdf",)


def _now() -> datetime:
    return clock.now()


class MediaAsset(db.Model):
    """One uploaded source file of a course, and everything made from it."""

    __tablename__ = "media_assets"
    __table_args__ = (Index("ix_media_assets_lesson_state", "lesson_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: random hex; the asset's folder in storage (assets/<uid[:2]>/<uid>/)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: one of ASSET_KINDS, decided by the probe from the content ("pending" until then)
    kind: Mapped[str] = mapped_column(String(20), default="pending")
    #: the state of its latest job: one of JOB_STATES
    state: Mapped[str] = mapped_column(String(20), default="queued")
    #: 0..1 of the latest job
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    #: reason code of the failure (app.media.probe.REASONS), shown translated
    error_code: Mapped[str | None] = mapped_column(String(40))
    #: ffmpeg's own words about the failure, for staff
    error_detail: Mapped[str | None] = mapped_column(Text)

    #: storage key of the original upload
    source_key: Mapped[str] = mapped_column(String(255))
    #: the name the file had on the uploader's computer; display only, never in a path
    source_filename: Mapped[str] = mapped_column(String(255), default="")
    source_size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: sha256 of the source, hex
    source_checksum: Mapped[str | None] = mapped_column(String(64))
    #: MIME type of the source, decided from its content
    content_type: Mapped[str | None] = mapped_column(String(120))
    #: container as ffmpeg names it ("mov,mp4,m4a,3gp,3g2,mj2") or the document type ("pdf")
    format_name: Mapped[str | None] = mapped_column(String(80))
    duration_s: Mapped[float | None] = mapped_column(Float)
    #: displayed size of the source (rotation and sample aspect applied)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    poster_key: Mapped[str | None] = mapped_column(String(255))
    #: the PDF the reader shows: the source itself, or its LibreOffice conversion (None: offered as a download)
    pdf_key: Mapped[str | None] = mapped_column(String(255))
    #: pages of that PDF
    page_count: Mapped[int | None] = mapped_column(Integer)
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, onupdate=_now)

    course = relationship("Course")
    lesson = relationship("Lesson")
    renditions: Mapped[list["MediaRendition"]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", order_by="MediaRendition.height"
    )
    jobs: Mapped[list["TranscodeJob"]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", order_by="TranscodeJob.id"
    )

    @property
    def is_playable(self) -> bool:
        """True when learners can use it: finished, or still running with its first rung published."""
        if self.kind == "document":
            return self.state == "done"
        return self.state in ("done", "running") and bool(self.renditions)

    @property
    def document_key(self) -> str | None:
        return self.source_key if self.kind == "document" and self.state == "done" else None

    @property
    def reader_key(self) -> str | None:
        """The PDF the reader shows, once the job is done (None for a document left as a download)."""
        return self.pdf_key if self.kind == "document" and self.state == "done" else None

    @property
    def document_is_inline(self) -> bool:
        return self.content_type in INLINE_DOCUMENT_TYPES

    @property
    def latest_job(self) -> "TranscodeJob | None":
        return self.jobs[-1] if self.jobs else None

    @property
    def storage_prefix(self) -> str:
        return f"assets/{self.uid[:2]}/{self.uid}"


class MediaRendition(db.Model):
    """A whole, playable file made from an asset: one rung of the ladder, or the audio-only file."""

    __tablename__ = "media_renditions"
    __table_args__ = (UniqueConstraint("asset_id", "label", name="uq_media_renditions_asset_label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("media_assets.id", ondelete="CASCADE"), index=True)
    #: "240p", "360p", "720p", "1080p", or "audio"
    label: Mapped[str] = mapped_column(String(16))
    #: pixels; 0 and 0 for the audio-only rendition
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    #: bits/s a player should budget: the video cap plus the audio bitrate
    bitrate: Mapped[int] = mapped_column(Integer, default=0)
    storage_key: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: sha256 of the file, hex
    checksum: Mapped[str] = mapped_column(String(64))
    #: "video/mp4" or "audio/mp4"
    content_type: Mapped[str] = mapped_column(String(40))
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    asset: Mapped[MediaAsset] = relationship(back_populates="renditions")


class TranscodeJob(db.Model):
    """One attempt at probing and transcoding an asset; its state is what staff see."""

    __tablename__ = "media_transcode_jobs"
    __table_args__ = (Index("ix_media_transcode_jobs_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("media_assets.id", ondelete="CASCADE"), index=True)
    #: one of JOB_STATES
    state: Mapped[str] = mapped_column(String(20), default="queued")
    #: 0..1, from ffmpeg's -progress
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    #: 1 for the first run, then one more for each retry
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    #: reason code (app.media.probe.REASONS)
    error_code: Mapped[str | None] = mapped_column(String(40))
    #: ffmpeg's own words
    error_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: last sign of life of the worker running it; a running job whose heartbeat is old was killed
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    asset: Mapped[MediaAsset] = relationship(back_populates="jobs")


class UploadSession(UploadProgress, db.Model):
    """A resumable (tus) upload: bytes arrive in PATCH requests at increasing offsets."""

    __tablename__ = "media_uploads"

    #: random hex, the id in the upload URL
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"))
    #: the name on the uploader's computer; display only
    filename: Mapped[str] = mapped_column(String(255), default="")
    media_asset_id: Mapped[int | None] = mapped_column(ForeignKey("media_assets.id", ondelete="SET NULL"))

