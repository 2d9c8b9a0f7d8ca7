"""Media fixtures: the generated media zoo and the ffmpeg tools to run against it."""
import shutil

import pytest

from app.media.probe import Tools
from app.media.transcode import Settings
from tests.media.zoo import Zoo, zoo_root


def _system_tools() -> Tools:
    from app.common.ffmpeg import ffmpeg_binary, ffprobe_binary

    return Tools(ffmpeg=ffmpeg_binary(), ffprobe=ffprobe_binary())


@pytest.fixture(scope="session")
def media_tools() -> Tools:
    """ffmpeg and ffprobe as the app resolves them (system binaries, else imageio-ffmpeg)."""
    return _system_tools()


@pytest.fixture(scope="session")
def fallback_tools() -> Tools:
    """ffmpeg without ffprobe, as on a machine that only has the imageio-ffmpeg wheel."""
    try:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        pytest.skip("no ffmpeg binary at all")
    return Tools(ffmpeg=ffmpeg, ffprobe=None)


@pytest.fixture(scope="session")
def zoo(media_tools) -> Zoo:
    """The media zoo, generated on first use and cached in a temporary folder."""
    return Zoo(zoo_root(media_tools.ffmpeg), media_tools.ffmpeg)


@pytest.fixture(scope="session")
def fast_settings() -> Settings:
    """Encoder settings for tests: the fastest x264 preset, otherwise as in production."""
    return Settings(preset="ultrafast")


# ---------------------------------------------------------------- people and a course (pipeline tests)
@pytest.fixture
def media_course(make_course, org_tree):
    """A course owned by county A with two lessons (600 s placeholders until media arrives)."""
    return make_course(None, title="Physics", durations=(600, 600), org=org_tree["county_a"])


@pytest.fixture
def course_staff(make_user, org_tree):
    """An org admin of county A: staff of media_course."""
    return make_user("county_admin", role="org_admin", org=org_tree["county_a"])


@pytest.fixture
def staff_token(api_token, course_staff):
    return api_token(course_staff)


@pytest.fixture
def upload_media(client, media_course):
    """upload_media(token, path, filename=None, lesson=None) -> response of POST /api/v1/media."""
    from tests.conftest import bearer

    def upload(token, path, filename=None, lesson=None, course=None):
        data = {"course_id": str((course or media_course).id)}
        if lesson is not None:
            data["lesson_id"] = str(lesson.id)
        with open(path, "rb") as handle:
            data["file"] = (handle, filename or path.name)
            return client.post("/api/v1/media", data=data, headers=bearer(token),
                               content_type="multipart/form-data")

    return upload

