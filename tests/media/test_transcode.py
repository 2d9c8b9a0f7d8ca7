"""Transcoding: the ladder plan, the one-process command, and every zoo file made into playable renditions."""
import json
import re
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from app.media.probe import ProbeError, probe_file
from app.media.transcode import (LADDER, Cancelled, Settings, TranscodeError, audio_command, ladder_command,
                                 output_fps, parse_progress, plan_ladder, plan_targets, run_ffmpeg, transcode)
from tests.media.zoo import BROKEN, VALID

MEDIA_VALID = tuple(name for name in VALID if name != "pdf_handout")


# --- the plan (pure) ---------------------------------------------------------------------------------

def _dims(targets):
    return [(t.label, t.width, t.height) for t in targets]


def test_full_hd_gets_every_rung():
    assert _dims(plan_ladder(1920, 1080, True)) == [
        ("240p", 426, 240), ("360p", 640, 360), ("720p", 1280, 720), ("1080p", 1920, 1080)]


def test_portrait_rungs_go_by_the_short_side():
    assert _dims(plan_ladder(1080, 1920, True)) == [
        ("240p", 240, 426), ("360p", 360, 640), ("720p", 720, 1280), ("1080p", 1080, 1920)]


def test_never_upscaled():
    assert _dims(plan_ladder(640, 360, True)) == [("240p", 426, 240), ("360p", 640, 360)]
    assert _dims(plan_ladder(1024, 576, True)) == [("240p", 426, 240), ("360p", 640, 360)]  # DVD 16:9


def test_a_source_just_below_a_rung_keeps_its_own_size():
    assert _dims(plan_ladder(1920, 1072, True))[-1] == ("1080p", 1920, 1072)


def test_tiny_source_gets_one_rung_at_its_own_size():
    assert _dims(plan_ladder(160, 120, True)) == [("240p", 160, 120)]
    assert _dims(plan_ladder(161, 121, True)) == [("240p", 160, 120)]


def test_bitrates_are_capped_per_rung():
    caps = {t.label: t.bitrate for t in plan_ladder(3840, 2160, True)}
    assert caps == {"240p": 364_000, "360p": 696_000, "720p": 1_928_000, "1080p": 3_628_000}
    silent = {t.label: t.bitrate for t in plan_ladder(3840, 2160, False)}
    assert silent == {"240p": 300_000, "360p": 600_000, "720p": 1_800_000, "1080p": 3_500_000}


@hsettings(max_examples=300, deadline=None)
@given(st.integers(min_value=16, max_value=8192), st.integers(min_value=16, max_value=8192))
def test_plan_properties(width, height):
    targets = plan_ladder(width, height, True)
    assert targets, "every source gets at least one rung"
    assert [t.label for t in targets] == [r.label for r in LADDER[: len(targets)]]  # lowest first, no gaps
    for t in targets:
        assert t.width % 2 == 0 and t.height % 2 == 0
        assert min(t.width, t.height) <= max(2, min(width, height))  # never upscaled (short side)
        assert (t.height > t.width) == (height > width) or t.width == t.height or abs(width - height) <= 2
        if min(t.width, t.height) >= 100:
            assert t.width / t.height == pytest.approx(width / height, rel=0.03)


@pytest.mark.parametrize("source,expected", [(25, 25), (29.97, Fraction(30000, 1001)), (60, 30), (None, 25),
                                             (0, 25), (15.25, Fraction(61, 4))])
def test_output_fps(source, expected):
    assert output_fps(source, 30) == expected


def test_parse_progress():
    block = ["frame=10", "out_time_us=1500000", "out_time=00:00:01.500000", "progress=continue"]
    assert parse_progress(block) == (1.5, False)
    assert parse_progress(["out_time=00:01:02.250000", "progress=end"]) == (62.25, True)
    assert parse_progress(["out_time_us=N/A", "progress=continue"]) == (None, False)


# --- the command ---------------------------------------------------------------------------------------

def test_one_process_decodes_once_and_splits_to_every_rung(zoo, media_tools, tmp_path):
    probe = probe_file(zoo.path("uhd_4k"), media_tools)
    targets = plan_targets(probe)
    cmd = ladder_command(zoo.path("uhd_4k"), probe, targets, tmp_path, Settings(), media_tools)
    assert cmd.count("-i") == 1
    graph = cmd[cmd.index("-filter_complex") + 1]
    assert "split=4" in graph and "bwdif" not in graph
    assert graph.count("setsar=1") == 4
    assert cmd.count("libx264") == 4 and cmd.count("+frag_keyframe+empty_moov+default_base_moof+global_sidx") == 4
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "-maxrate"] == ["300000", "600000", "1800000", "3500000"]
    assert cmd.count("expr:gte(t,n_forced*2)") == 4
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "-ac"] == ["2"] * 4
    assert cmd[cmd.index("-protocol_whitelist") + 1] == "file"
    assert all(arg.endswith(".part") for arg in cmd if arg.startswith(str(tmp_path)))


def test_interlaced_source_is_deinterlaced(zoo, media_tools, tmp_path):
    probe = probe_file(zoo.path("dvd_vob"), media_tools)
    cmd = ladder_command(zoo.path("dvd_vob"), probe, plan_targets(probe), tmp_path, Settings(), media_tools)
    graph = cmd[cmd.index("-filter_complex") + 1]
    assert graph.index("bwdif") < graph.index("split")  # once, before the split


def test_audio_only_with_cover_uses_the_cover(zoo, media_tools, tmp_path):
    probe = probe_file(zoo.path("mp3_cover"), media_tools)
    graph = audio_command(zoo.path("mp3_cover"), probe, tmp_path, media_tools)
    graph = graph[graph.index("-filter_complex") + 1]
    assert graph.startswith(f"[0:{probe.cover.index}]") and "showwavespic" not in graph
    plain = probe_file(zoo.path("mp3_plain"), media_tools)
    graph = audio_command(zoo.path("mp3_plain"), plain, tmp_path, media_tools)
    assert "showwavespic" in graph[graph.index("-filter_complex") + 1]


# --- the zoo, end to end -------------------------------------------------------------------------------

def _keyframe_times(ffprobe: str, path: Path) -> list[float]:
    out = subprocess.run([ffprobe, "-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey",
                          "-show_entries", "frame=pts_time", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [float(f["pts_time"]) for f in json.loads(out)["frames"]]


def _top_level_boxes(path: Path) -> list[bytes]:
    data, boxes, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        boxes.append(kind)
        if size < 8:
            break
        pos += size
    return boxes


class _Outputs(dict):
    """Transcodes of zoo files, made on first use (each xdist worker makes only what its tests need)."""

    def __init__(self, zoo, tools, settings, root):
        super().__init__()
        self.zoo, self.tools, self.settings, self.root = zoo, tools, settings, root

    def __missing__(self, name):
        work = self.root / name
        probe = probe_file(self.zoo.path(name), self.tools)
        progress, handed = [], []
        result = transcode(self.zoo.path(name), probe, work, settings=self.settings, tools=self.tools,
                           on_progress=progress.append, on_output=handed.append)
        self[name] = (probe, result, work, progress, handed)
        return self[name]


@pytest.fixture(scope="module")
def zoo_outputs(zoo, media_tools, fast_settings, tmp_path_factory):
    """name -> (probe, result, work dir, progress reports, renditions handed over), one transcode per file."""
    return _Outputs(zoo, media_tools, fast_settings, tmp_path_factory.mktemp("outputs"))


@pytest.mark.parametrize("name", MEDIA_VALID)
def test_zoo_source_gives_playable_renditions(zoo, zoo_outputs, media_tools, name):
    case = zoo.case(name)
    probe, result, work, progress, handed = zoo_outputs[name]
    assert [r.label for r in result.renditions] == list(case.rungs)
    assert handed == result.renditions  # each handed over as it became whole, lowest first
    assert progress and progress[-1] == 1.0 and progress == sorted(progress)
    assert not list(work.glob("*.part"))
    for rendition in result.renditions:
        again = probe_file(rendition.path, media_tools, check_tail=False)  # playable: re-probed from disk
        assert again.duration_s == pytest.approx(case.duration_s, abs=0.3)
        boxes = _top_level_boxes(rendition.path)
        # fragmented for the Media Source player: the init segment, the index, then fragments
        assert boxes[:3] == [b"ftyp", b"moov", b"sidx"] and b"moof" in boxes
        assert boxes.index(b"moof") < boxes.index(b"mdat")
        if case.kind == "video":
            video = again.video
            assert video.codec_name == "h264" and video.pix_fmt == "yuv420p"
            assert (video.width, video.height) == (rendition.width, rendition.height)
            assert video.width % 2 == 0 and video.height % 2 == 0
            assert video.rotation == 0 and video.sar == (1, 1)
            assert not video.is_interlaced
            assert ("portrait" if video.height > video.width else "landscape") == case.orientation
            assert rendition.content_type == "video/mp4"
        else:
            assert again.video is None and rendition.content_type == "audio/mp4"
            assert (rendition.width, rendition.height) == (0, 0)
        if case.has_audio:
            assert again.audio.codec_name == "aac" and again.audio.channels == 2
        else:
            assert again.audio is None
    for picture in (result.poster, result.thumbnail):
        assert picture.path.read_bytes()[:2] == b"\xff\xd8"  # a JPEG
        assert picture.path.stat().st_size > 1000


def test_audio_posters_are_cover_or_waveform(zoo_outputs, media_tools):
    def size(path):
        out = subprocess.run([media_tools.ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True)
        match = re.search(r", (\d+)x(\d+)", out.stderr)
        return int(match.group(1)), int(match.group(2))

    assert size(zoo_outputs["mp3_cover"][1].poster.path) == (300, 300)  # the album cover
    assert size(zoo_outputs["mp3_plain"][1].poster.path) == (1280, 720)  # a waveform picture
    assert size(zoo_outputs["mp3_plain"][1].thumbnail.path)[0] == 320


def test_dvd_comes_out_16_9_with_square_pixels(zoo_outputs):
    _, result, *_ = zoo_outputs["dvd_vob"]
    assert [(r.width, r.height) for r in result.renditions] == [(426, 240), (640, 360)]


def test_4k_bitrates_stay_under_their_caps(zoo_outputs):
    _, result, *_ = zoo_outputs["uhd_4k"]
    for rendition in result.renditions:
        measured = rendition.size_bytes * 8 / rendition.duration_s
        assert measured < rendition.bitrate * 1.5, rendition.label  # 1 s clips: VBV allows a little burst


def test_keyframes_every_two_seconds(tmp_path, media_tools, fast_settings):
    source = tmp_path / "five-seconds.mp4"
    subprocess.run([media_tools.ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=5",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "250", str(source)], check=True, timeout=60)
    probe = probe_file(source, media_tools)
    result = transcode(source, probe, tmp_path / "work", settings=fast_settings, tools=media_tools)
    times = _keyframe_times(media_tools.ffprobe or "ffprobe", result.renditions[0].path)
    assert times[:3] == pytest.approx([0.0, 2.0, 4.0], abs=0.05)
    # one fragment per keyframe: the Media Source player fetches 2 s at a time
    assert _top_level_boxes(result.renditions[0].path).count(b"moof") == 3


@pytest.mark.parametrize("name", BROKEN)
def test_zoo_broken_source_fails_with_its_reason(zoo, media_tools, fast_settings, tmp_path, name):
    case = zoo.case(name)
    with pytest.raises(ProbeError) as caught:
        probe = probe_file(zoo.path(name), media_tools)
        transcode(zoo.path(name), probe, tmp_path, settings=fast_settings, tools=media_tools)
    assert caught.value.code == case.reason
    assert caught.value.message  # a sentence for staff
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob("*.part"))


def test_a_cut_matroska_file_is_truncated_by_duration(zoo, media_tools, fast_settings, tmp_path):
    # Matroska states its duration up front; the data ends early: the output is too short.
    data = zoo.path("mkv_as_mp4").read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TranscodeError) as caught:
        probe = probe_file(cut, media_tools, check_tail=False)
        transcode(cut, probe, tmp_path / "work", settings=fast_settings, tools=media_tools)
    assert caught.value.code == "truncated"


def test_cancelled_transcode_leaves_nothing_half_made(zoo, media_tools, fast_settings, tmp_path):
    probe = probe_file(zoo.path("hd_720p"), media_tools)

    def stop(_fraction):
        raise Cancelled()

    with pytest.raises(Cancelled):
        transcode(zoo.path("hd_720p"), probe, tmp_path, settings=fast_settings, tools=media_tools, on_progress=stop)
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob("*.mp4"))


def test_long_sources_publish_the_lowest_rung_first(zoo, media_tools, tmp_path):
    probe = probe_file(zoo.path("hd_720p"), media_tools)
    settings = Settings(preset="ultrafast", early_rung_min_s=0)  # treat this 1 s clip as long
    seen = []

    def on_output(output):
        seen.append((output.label, sorted(p.name for p in tmp_path.glob("*.mp4"))))

    transcode(zoo.path("hd_720p"), probe, tmp_path, settings=settings, tools=media_tools, on_output=on_output)
    assert seen[0] == ("240p", ["240p.mp4"])  # published while the other rungs did not exist yet
    assert [label for label, _ in seen] == ["240p", "360p", "720p"]


def test_stalled_ffmpeg_is_killed(tmp_path):
    with pytest.raises(TranscodeError) as caught:
        run_ffmpeg(["sleep", "30"], duration_s=10, log_path=tmp_path / "log", timeout_s=60, stall_timeout_s=1)
    assert caught.value.code == "timeout"


def test_ffmpeg_failure_reports_ffmpegs_reason(zoo, media_tools, fast_settings, tmp_path):
    probe = probe_file(zoo.path("silent_video"), media_tools)
    broken = Settings(preset="no-such-preset")
    with pytest.raises(TranscodeError) as caught:
        transcode(zoo.path("silent_video"), probe, tmp_path, settings=broken, tools=media_tools)
    assert caught.value.code == "transcode_failed"
    assert "preset" in caught.value.detail.lower()
    assert str(tmp_path) not in caught.value.detail


def test_fallback_ffmpeg_only_transcodes_too(zoo, fallback_tools, fast_settings, tmp_path):
    probe = probe_file(zoo.path("phone_portrait"), fallback_tools)
    result = transcode(zoo.path("phone_portrait"), probe, tmp_path, settings=fast_settings, tools=fallback_tools)
    assert [(r.width, r.height) for r in result.renditions] == [(240, 426), (360, 640)]


def test_large_rungs_use_the_faster_preset(zoo, media_tools, tmp_path):
    probe = probe_file(zoo.path("uhd_4k"), media_tools)
    cmd = ladder_command(zoo.path("uhd_4k"), probe, plan_targets(probe), tmp_path, Settings(), media_tools)
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "-preset"] == ["veryfast", "veryfast", "superfast",
                                                                          "superfast"]
    fast = Settings(preset="ultrafast")  # tests: the base preset is faster than the HD one, so it wins
    assert {fast.preset_for(t.rung) for t in plan_targets(probe)} == {"ultrafast"}
    assert Settings(preset="medium", preset_hd="veryfast").preset_for(LADDER[3]) == "veryfast"
