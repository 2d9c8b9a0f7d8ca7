"""Transcoding half of bench/media.py: the app's ladder job against bare ffmpeg.

"app": what a transcode job does with a source — probe it
(app.media.probe.probe_file), then app.media.transcode.transcode(): one
ffmpeg decoding once and encoding every rung with progress reporting, each
output probed again and renamed, then poster and thumbnail.
"bare": the same ffmpeg command lines (app.media.transcode.ladder_command and
poster_command, without -progress) run directly, nothing around them.
The bare run goes before and after the app run and its mean is used, so a
machine getting busier or quieter during the minutes this takes does not
decide the result. CPU seconds (this process and its children) are reported
too: on a shared machine they are the steadier figure.
transcode_overhead = app / bare - 1 (wall clock); transcode_speed = media
seconds / app wall seconds.
"""
from __future__ import annotations

import resource
import shutil
import subprocess
import time
from pathlib import Path


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _without_progress(cmd: list[str]) -> list[str]:
    out, skip = [], 0
    for arg in cmd:
        if skip:
            skip -= 1
            continue
        if arg in ("-progress", "-stats_period"):
            skip = 1
            continue
        out.append(arg)
    return out


def compare(source: Path, out_dir: Path) -> dict:
    """Time both ways on the same source; return figures and the 720p rendition's path."""
    from app.media.probe import Tools, probe_file
    from app.media.transcode import Settings, ladder_command, part_name, plan_targets, poster_command, transcode

    settings = Settings()
    tools = Tools.resolve()
    probe = probe_file(source, tools)
    targets = plan_targets(probe)

    def bare(run: int) -> tuple[float, float]:
        folder = out_dir / f"bare-{run}"
        folder.mkdir(parents=True)
        ladder = _without_progress(ladder_command(source, probe, targets, folder, settings, tools))
        t0, c0 = time.perf_counter(), _cpu_s()
        subprocess.run(ladder, check=True, stdout=subprocess.DEVNULL)
        top = folder / part_name(targets[-1].filename)
        subprocess.run(_without_progress(poster_command(top, probe.duration_s or 0, folder, tools)), check=True,
                       stdout=subprocess.DEVNULL)
        elapsed, cpu = time.perf_counter() - t0, _cpu_s() - c0
        shutil.rmtree(folder, ignore_errors=True)
        return elapsed, cpu

    bare_before = bare(1)
    t0, c0 = time.perf_counter(), _cpu_s()
    app_probe = probe_file(source, tools)
    result = transcode(source, app_probe, out_dir / "app", settings=settings, tools=tools, on_progress=lambda f: None)
    app_s, app_cpu_s = time.perf_counter() - t0, _cpu_s() - c0
    bare_after = bare(2)
    bare_s = (bare_before[0] + bare_after[0]) / 2
    bare_cpu_s = (bare_before[1] + bare_after[1]) / 2

    by_label = {r.label: r.path for r in result.renditions}
    if "720p" not in by_label:
        raise SystemExit(f"the ladder has no 720p rendition: {sorted(by_label)}")
    duration = probe.duration_s or 0.0
    return {
        "app_s": app_s,
        "bare_s": bare_s,
        "overhead": app_s / bare_s - 1,
        "bare_runs_s": [bare_before[0], bare_after[0]],
        "app_cpu_s": app_cpu_s,
        "bare_cpu_s": bare_cpu_s,
        "overhead_cpu": app_cpu_s / bare_cpu_s - 1,
        "speed": duration / app_s,
        "rungs": ", ".join(f"{r.label} {r.width}x{r.height}" for r in result.renditions),
        "rendition_720p": by_label["720p"],
    }
