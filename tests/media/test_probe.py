"""Probing: what a file is, decided by its content, with ffprobe and with the ffmpeg-only fallback."""
import os
import stat
import subprocess

import pytest

from app.media import probe as probe_mod
from app.media.probe import (REASONS, ProbeError, Sniff, Tools, classify_failure, display_size, looks_like_playlist,
                             parse_ffmpeg_banner, parse_ffprobe_json, probe_file, reason_message)
from tests.media.zoo import BROKEN, RECIPES, VALID

MODES = ("ffprobe", "ffmpeg_only")

# Broken files the probe alone must refuse; the damage of "corrupt_middle" shows only when decoding it all.
PROBE_BROKEN = tuple(name for name in BROKEN if name != "corrupt_middle")


@pytest.fixture(params=MODES)
def tools(request, media_tools, fallback_tools):
    if request.param == "ffprobe":
        if not media_tools.ffprobe:
            pytest.skip("no ffprobe on this machine")
        return media_tools
    return fallback_tools


@pytest.mark.parametrize("name", VALID)
def test_valid_sources_are_recognised_by_content(zoo, tools, name):
    case = zoo.case(name)
    result = probe_file(zoo.path(name), tools)
    assert result.kind == case.kind
    if case.kind == "document":
        assert result.content_type == "application/pdf"
        return
    assert result.duration_s == pytest.approx(case.duration_s, abs=0.15)
    assert result.has_audio is case.has_audio
    if case.kind == "video":
        assert result.display_size == case.display_size
        width, height = result.display_size
        assert ("portrait" if height > width else "landscape") == case.orientation
    else:
        assert result.video is None  # cover art is not a picture stream


def test_name_is_never_trusted_matroska_named_mp4(zoo, tools):
    result = probe_file(zoo.path("mkv_as_mp4"), tools)
    assert result.format_name.startswith("matroska")
    assert result.extension == "mkv"
    assert result.content_type == "video/x-matroska"


def test_rotation_of_a_phone_clip(zoo, tools):
    result = probe_file(zoo.path("phone_portrait"), tools)
    assert (result.video.width, result.video.height) == (640, 360)  # stored landscape ...
    assert result.video.rotation == 90  # ... shown turned
    assert result.display_size == (360, 640)


def test_dvd_is_interlaced_and_anamorphic(zoo, tools):
    result = probe_file(zoo.path("dvd_vob"), tools)
    video = result.video
    assert video.is_interlaced and video.field_order == "tt"
    assert video.sar == (64, 45)
    assert result.display_size == (1024, 576)
    assert result.format_name == "mpeg"


def test_cover_art_counts_as_audio_only(zoo, tools):
    result = probe_file(zoo.path("mp3_cover"), tools)
    assert result.kind == "audio"
    assert result.cover is not None and result.cover.is_attached_pic
    assert result.content_type == "audio/mpeg"


def test_surround_channels_are_reported(zoo, tools):
    assert probe_file(zoo.path("surround_51"), tools).audio.channels == 6


def test_hevc_10_bit_is_readable(zoo, tools):
    result = probe_file(zoo.path("hevc10"), tools)
    assert result.video.codec_name == "hevc"
    assert result.video.pix_fmt.startswith("yuv420p10")


@pytest.mark.parametrize("name", PROBE_BROKEN)
def test_broken_sources_fail_with_a_reason(zoo, tools, name):
    case = zoo.case(name)
    with pytest.raises(ProbeError) as caught:
        probe_file(zoo.path(name), tools)
    assert caught.value.code == case.reason
    assert caught.value.message == str(REASONS[case.reason])
    assert str(zoo.path(name)) not in caught.value.detail  # no server paths in what staff see


def test_damage_in_the_middle_passes_the_probe(zoo, tools):
    # Decoding everything would cost as much as transcoding; the transcode reports it (test_transcode).
    assert probe_file(zoo.path("corrupt_middle"), tools).kind == "video"


def test_hls_playlist_is_refused_by_the_demuxer_whitelist_not_followed(zoo, media_tools):
    """Even without the content sniff, ffprobe is not allowed to open the playlist's segments."""
    if not media_tools.ffprobe:
        pytest.skip("no ffprobe on this machine")
    playlist = zoo.path("hls_as_mp4")
    assert (playlist.parent / "segment0.ts").exists()  # what following it would read
    unguarded = subprocess.run([media_tools.ffprobe, "-v", "error", "-show_streams", "-of", "json", str(playlist)],
                               capture_output=True, text=True, timeout=60)
    assert '"codec_type": "video"' in unguarded.stdout  # ffprobe alone does follow it
    with pytest.raises(ProbeError) as caught:
        probe_mod.probe_streams(playlist, media_tools, 30, Sniff(None, None))
    assert caught.value.code == "playlist"
    assert "not on whitelist" in caught.value.detail


def test_playlist_sniff():
    assert looks_like_playlist(b"#EXTM3U\n#EXTINF:1,\na.ts\n")
    assert looks_like_playlist(b"\xef\xbb\xbf  #EXTM3U\n")
    assert looks_like_playlist(b"junk\n#EXT-X-TARGETDURATION:2\n")
    assert not looks_like_playlist(b"\x00\x00\x00\x18ftypmp42")


def test_probe_times_out(tmp_path, zoo):
    slow = tmp_path / "slow-ffprobe"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(ProbeError) as caught:
        probe_file(zoo.path("silent_video"), Tools(ffmpeg=str(slow), ffprobe=str(slow)), timeout_s=0.5)
    assert caught.value.code == "timeout"


def test_documents_by_content(tmp_path):
    import zipfile

    docx = tmp_path / "plan.pdf"  # a Word file whatever its name says
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    result = probe_file(docx, Tools(ffmpeg="ffmpeg-not-needed"))
    assert (result.kind, result.extension) == ("document", "docx")
    other_zip = tmp_path / "lesson.pptx"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ProbeError) as caught:
        probe_file(other_zip, Tools(ffmpeg="ffmpeg-not-needed"))
    assert caught.value.code == "unknown_type"


def test_every_reason_has_a_message():
    for name in BROKEN:
        assert RECIPES[name][1].reason in REASONS
    assert reason_message("truncated").startswith("The file is incomplete")
    assert reason_message(None) == ""


# --- pure parsing ---------------------------------------------------------------------------------

BANNER = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'input':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 1218 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, top first), 1920x1080 [SAR 4:3 DAR 64:27], 1145 kb/s, 29.97 fps, 29.97 tbr, 15360 tbn (default)
    Side data:
      Display Matrix: rotation of 90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, 5.1(side), fltp, 384 kb/s (default)
  Stream #0:2: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 600x600 [SAR 1:1 DAR 1:1], 90k tbr, 90k tbn (attached pic)
At least one output file must be specified
"""


def test_parse_ffmpeg_banner():
    fmt, duration, streams = parse_ffmpeg_banner(BANNER)
    assert fmt == "mov,mp4,m4a,3gp,3g2,mj2"
    assert duration == pytest.approx(62.5)
    video, audio, cover = streams
    assert (video.width, video.height, video.sar, video.field_order) == (1920, 1080, (4, 3), "tt")
    assert video.rotation == 270 and video.fps == pytest.approx(29.97)
    assert (audio.channels, audio.sample_rate, audio.codec_name) == (6, 48000, "aac")
    assert cover.is_attached_pic and not video.is_attached_pic


def test_parse_ffmpeg_banner_without_input_raises():
    with pytest.raises(ValueError):
        parse_ffmpeg_banner("input: Invalid data found when processing input\n")


def test_parse_ffprobe_json_rotation_and_rates():
    data = {
        "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "12.5"},
        "streams": [
            {"index": 0, "codec_type": "video", "codec_name": "h264", "width": 1280, "height": 720,
             "sample_aspect_ratio": "0:1", "r_frame_rate": "90000/1", "avg_frame_rate": "30000/1001",
             "field_order": "progressive", "side_data_list": [{"rotation": -90}]},
            {"index": 1, "codec_type": "audio", "codec_name": "opus", "channels": 2, "sample_rate": "48000"},
        ],
    }
    fmt, duration, (video, audio) = parse_ffprobe_json(data)
    assert duration == 12.5 and fmt.startswith("mov")
    assert video.rotation == 90 and video.sar == (1, 1)
    assert video.fps == pytest.approx(29.97, abs=0.01)  # an absurd r_frame_rate falls back to the average
    assert audio.sample_rate == 48000


@pytest.mark.parametrize("size,sar,rotation,expected", [
    ((720, 576), (64, 45), 0, (1024, 576)),
    ((720, 480), (8, 9), 0, (720, 540)),
    ((1920, 1080), (1, 1), 90, (1080, 1920)),
    ((1920, 1080), (1, 1), 180, (1920, 1080)),
    ((640, 360), (1, 1), 270, (360, 640)),
])
def test_display_size(size, sar, rotation, expected):
    assert display_size(*size, sar, rotation) == expected


@pytest.mark.parametrize("stderr,code", [
    ("[hls @ 0x1] Format not on whitelist 'mov'\n", "playlist"),
    ("[bin @ 0x1] Format not on whitelist 'mov'\n", "unknown_type"),
    ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] moov atom not found\ninput: Invalid data\n", "truncated"),
    ("input: Invalid data found when processing input\n", "unknown_type"),
])
def test_classify_failure(stderr, code):
    assert classify_failure(stderr, Sniff(None, None)).code == code


def test_classify_failure_of_a_recognised_container_is_unreadable():
    error = classify_failure("input: Invalid data found when processing input\n", Sniff(".mkv", "video/x-matroska"))
    assert error.code == "unreadable"
    assert error.detail == "input: Invalid data found when processing input"


def test_no_read_access_is_unreadable(tmp_path):
    if os.geteuid() == 0:
        path = tmp_path / "missing.mp4"  # root reads everything: use a file that is not there
    else:
        path = tmp_path / "locked.mp4"
        path.write_bytes(b"x" * 10)
        path.chmod(0)
    with pytest.raises(ProbeError) as caught:
        probe_file(path, Tools(ffmpeg="unused"))
    assert caught.value.code == "unreadable"


@pytest.mark.parametrize("user_password,opens", [("secret", False), ("", True)])
def test_a_pdf_that_needs_a_password_is_a_bad_document(tmp_path, user_password, opens):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password=user_password)
    pdf.add_page()
    path = tmp_path / "locked.pdf"
    path.write_bytes(bytes(pdf.output()))
    if opens:  # only an owner password (no printing, say): the reader still shows it
        assert probe_file(path, Tools(ffmpeg="ffmpeg-not-needed")).kind == "document"
    else:
        with pytest.raises(ProbeError) as caught:
            probe_file(path, Tools(ffmpeg="ffmpeg-not-needed"))
        assert caught.value.code == "bad_document" and "password" in caught.value.detail
