"""Media delivery benchmark: nginx direct, nginx secure_link, app + X-Accel-Redirect, app alone.

    .venv/bin/python bench/media.py            # or: make bench-media

One bounded run on loopback only:
1. set-up: Debian's nginx and wrk (``apt-get install -y nginx wrk`` when
   missing and running as root), ffmpeg;
2. transcoding: a generated 60 s 1080p30 source (test pattern and tone) is
   transcoded to the ladder by the app's pipeline (probe + app/media/transcode.py)
   and by the bare ffmpeg commands doing the same work, run before and after
   the app (bench/media_transcode.py); wall and CPU time are reported;
3. the ladder's 720p rendition is put under a fresh MEDIA_ROOT and served
   four ways from the same file and the same signed URL:
     nginx direct   a plain nginx location (sendfile), the reference;
     secure_link    nginx checks the signature (deploy/nginx, no app at all);
     x_accel        the app (gunicorn gthread) checks the signature and answers
                    X-Accel-Redirect; nginx sends the bytes;
     app            the app alone (gunicorn gthread, MEDIA_SERVE_MODE=app);
   nginx runs the shipped deploy/nginx configuration rendered for this run;
4. for each, --rounds times interleaved with the other modes (the median
   round counts): wrk with bench/media_range.lua (random 1 MiB ranges, many
   connections) for --duration seconds, while --slow-clients sockets download
   the file with open ranges at about 200 KiB/s each, a prober measures the
   time to first byte of range requests, and another asks the app's /healthz
   every 100 ms. Every answer path is checked for the right bytes first.

Printed: MiB/s and p99 time-to-first-byte per mode, the ratios to nginx
direct, /healthz availability during the run, the transcoding figures; the
last line is one JSON object with nginx_mib_s, secure_link_ratio,
x_accel_ratio, app_ratio, transcode_overhead, transcode_speed (and extras).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "deploy" / "nginx"))
sys.path.insert(0, str(ROOT / "bench"))

import render as nginx_render  # noqa: E402  (deploy/nginx/render.py)

from app.media import signing  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
NGINX = "/usr/sbin/nginx"
MIB = 1024 * 1024
KEY = "bench/aa/aabbcc/720p.mp4"


def log(message: str = "") -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start on port {port} (exit {proc.poll()})")
            time.sleep(0.05)


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


# ------------------------------------------------------------------ set-up

def ensure_system_tools() -> None:
    """Install nginx and wrk with apt when missing (the bench's only set-up)."""
    need = [pkg for pkg, present in (("nginx", os.path.exists(NGINX)), ("wrk", shutil.which("wrk"))) if not present]
    if not shutil.which("ffmpeg"):
        need.append("ffmpeg")
    if not need:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(f"missing {', '.join(need)}: run `sudo apt-get install -y {' '.join(need)}` and retry")
    log(f"installing {' '.join(need)} with apt-get ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need], check=True, env=env)


# ------------------------------------------------------------------ transcoding

def make_source(path: Path, seconds: int = 60) -> None:
    """Generate a 1080p30 H.264/AAC source (test pattern + tone); not timed."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-shortest", str(path)],
        check=True,
    )


def time_transcode(source: Path, out_dir: Path) -> dict:
    """Time the app's ladder transcode against the bare ffmpeg command doing the same work."""
    import media_transcode

    return media_transcode.compare(source, out_dir)


# ------------------------------------------------------------------ servers

@dataclass
class Servers:
    work: Path
    media_root: Path
    secret: str
    procs: list = field(default_factory=list)
    ports: dict = field(default_factory=dict)

    def start_gunicorn(self, name: str, mode: str, workers: int, threads: int) -> int:
        port = free_port()
        env = dict(
            os.environ,
            XUESHI_CONFIG="production",
            SECRET_KEY=secrets.token_hex(32),
            SESSION_COOKIE_SECURE="0",
            DATABASE_URL=f"sqlite:///{self.work / 'bench.db'}",
            MEDIA_ROOT=str(self.media_root),
            MEDIA_SERVE_MODE=mode,
            MEDIA_SIGNING_KEY=self.secret,
            PYTHONPATH=str(ROOT),
        )
        env.pop("REDIS_URL", None)
        log_file = (self.work / f"gunicorn-{name}.log").open("wb")
        proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--worker-class", "gthread", "--workers", str(workers),
             "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
        log_file.close()
        self.procs.append(proc)
        wait_port(port, proc, f"gunicorn ({name})")
        deadline = time.monotonic() + 60
        while True:  # the workers import the app after the port opens
            try:
                if http_get(port, "/healthz", timeout=10)[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn ({name}) does not answer /healthz: "
                                 + (self.work / f"gunicorn-{name}.log").read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        self.ports[name] = port
        return port

    def start_nginx(self, name: str, mode: str, upstream_port: int, extra_http: str = "") -> int:
        port = free_port()
        site = nginx_render.Site(
            media_root=str(self.media_root), static_root=str(ROOT / "app" / "static"),
            upstream=f"127.0.0.1:{upstream_port}", listen=f"127.0.0.1:{port}", secret=self.secret, mode=mode,
        )
        out = self.work / f"nginx-{name}"
        conf = nginx_render.write(site, out, standalone=True, extra_http=extra_http, worker_processes=2)
        subprocess.run([NGINX, "-t", "-q", "-p", str(out), "-c", str(conf)], check=True)
        proc = subprocess.Popen([NGINX, "-p", str(out), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        wait_port(port, proc, f"nginx ({name})")
        self.ports[name] = port
        return port

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if "gunicorn" in str(proc.args[0]) else signal.SIGQUIT)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


# ------------------------------------------------------------------ clients

def http_get(port: int, target: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, dict, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", target, headers=headers or {})
        rv = conn.getresponse()
        return rv.status, {k.lower(): v for k, v in rv.getheaders()}, rv.read()
    finally:
        conn.close()


def check_answers(port: int, target: str, data: bytes, name: str) -> None:
    """Refuse to measure a path that gives wrong bytes or accepts a bad signature."""
    start = len(data) // 3
    status, headers, body = http_get(port, target, {"Range": f"bytes={start}-{start + MIB - 1}"})
    if status != 206 or body != data[start : start + MIB]:
        raise SystemExit(f"{name}: wrong answer to a 1 MiB range (status {status}, {len(body)} bytes)")
    if headers.get("content-type") != "video/mp4":
        raise SystemExit(f"{name}: Content-Type {headers.get('content-type')!r}")
    if "md5=" in target:
        bad = target.replace("md5=", "md5=A")
        status, _, _ = http_get(port, bad, {"Range": "bytes=0-0"})
        if status != 403:
            raise SystemExit(f"{name}: a tampered signature got {status}, not 403")


def slow_client(port: int, target: str, size: int, stop: threading.Event, stats: dict, lock: threading.Lock) -> None:
    """Download with open ranges at ~200 KiB/s through a small receive buffer, like a weak phone."""
    offset = 0
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
                sock.sendall(
                    f"GET {target} HTTP/1.1\r\nHost: bench\r\nRange: bytes={offset}-\r\nConnection: close\r\n\r\n".encode()
                )
                while not stop.is_set():
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    with lock:
                        stats["bytes"] += len(chunk)
                    stop.wait(0.02)
        except OSError:
            with lock:
                stats["errors"] += 1
            stop.wait(0.1)
        offset = (offset + 4 * MIB) % max(1, size - MIB)


def ttfb_probe(port: int, target: str, size: int, stop: threading.Event, samples: list, errors: list) -> None:
    """Time from connecting to the first byte of the answer for random 1 MiB ranges."""
    import random

    rng = random.Random()
    while not stop.is_set():
        start = rng.randrange(0, size - MIB)
        request = (f"GET {target} HTTP/1.1\r\nHost: bench\r\nRange: bytes={start}-{start + MIB - 1}\r\n"
                   "Connection: close\r\n\r\n").encode()
        t0 = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(request)
                first = sock.recv(1)
                t1 = time.perf_counter()
                if not first:
                    raise OSError("closed")
                while sock.recv(256 * 1024):
                    pass
            samples.append(t1 - t0)
        except OSError:
            errors.append(1)


def healthz_probe(port: int, stop: threading.Event, samples: list, failures: list) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            status, _, body = http_get(port, "/healthz", timeout=2)
            if status == 200 and body.startswith(b"ok"):
                samples.append(time.perf_counter() - t0)
            else:
                failures.append(status)
        except OSError:
            failures.append("timeout")
        stop.wait(0.1)


def run_wrk(port: int, target: str, size: int, duration_s: int, connections: int, threads: int) -> dict:
    url = f"http://127.0.0.1:{port}{target}"
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration_s}s", "--timeout", "10s",
         "-s", str(ROOT / "bench" / "media_range.lua"), url, "--", str(size), str(MIB)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure_once(name: str, port: int, target: str, size: int, healthz_port: int, args) -> dict:
    """One wrk run of a mode, with slow clients, a TTFB prober and a /healthz prober alongside."""
    stop = threading.Event()
    lock = threading.Lock()
    slow_stats = {"bytes": 0, "errors": 0}
    ttfb: list[float] = []
    ttfb_errors: list = []
    health: list[float] = []
    health_failures: list = []
    workers = [threading.Thread(target=slow_client, args=(port, target, size, stop, slow_stats, lock), daemon=True)
               for _ in range(args.slow_clients)]
    workers += [threading.Thread(target=ttfb_probe, args=(port, target, size, stop, ttfb, ttfb_errors), daemon=True)
                for _ in range(args.ttfb_probes)]
    workers.append(threading.Thread(target=healthz_probe, args=(healthz_port, stop, health, health_failures),
                                    daemon=True))
    started = time.monotonic()
    for worker in workers:
        worker.start()
    time.sleep(0.5)  # slow clients connected and holding their downloads
    try:
        wrk = run_wrk(port, target, size, args.duration, args.connections, args.wrk_threads)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=15)
    if wrk["requests"] and wrk["bytes"] / wrk["requests"] > 1.01 * MIB + 4096:
        raise SystemExit(f"{name}: answers larger than 1 MiB: the range was not honoured")
    return {"wrk": wrk, "ttfb": ttfb, "ttfb_errors": len(ttfb_errors), "health": health,
            "health_failures": health_failures, "slow_bytes": slow_stats["bytes"],
            "slow_errors": slow_stats["errors"], "seconds": time.monotonic() - started}


def combine(name: str, runs: list[dict]) -> dict:
    """Sum up the rounds of one mode: the median round's throughput (one round disturbed by other work
    on the machine does not decide it), percentiles over all samples."""
    ttfb = [t for r in runs for t in r["ttfb"]]
    health = [t for r in runs for t in r["health"]]
    rounds = [r["wrk"]["bytes"] / MIB / (r["wrk"]["duration_us"] / 1e6) for r in runs]
    return {
        "mode": name,
        "mib_s": statistics.median(rounds),
        "mib_s_rounds": [round(x, 1) for x in rounds],
        "requests_s": statistics.median(r["wrk"]["requests"] / (r["wrk"]["duration_us"] / 1e6) for r in runs),
        "wrk_errors": sum(r["wrk"][k] for r in runs for k in r["wrk"] if k.startswith("errors_")),
        "wrk_latency_p99_ms": max(r["wrk"]["latency_p99_us"] for r in runs) / 1000,
        "ttfb_p99_ms": p99(ttfb) * 1000,
        "ttfb_p50_ms": (statistics.median(ttfb) * 1000) if ttfb else float("nan"),
        "ttfb_samples": len(ttfb),
        "ttfb_errors": sum(r["ttfb_errors"] for r in runs),
        "slow_clients_kib_s": sum(r["slow_bytes"] for r in runs) / 1024 / sum(r["seconds"] for r in runs),
        "healthz_ok": len(health),
        "healthz_failed": sum(len(r["health_failures"]) for r in runs),
        "healthz_p99_ms": p99(health) * 1000,
    }


# ------------------------------------------------------------------ main

def main() -> None:
    parser = argparse.ArgumentParser(description="Xueshi media delivery benchmark")
    parser.add_argument("--duration", type=int, default=2, help="seconds of one wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="runs per mode, interleaved (order rotated)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--slow-clients", type=int, default=24)
    parser.add_argument("--ttfb-probes", type=int, default=2)
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=32)
    parser.add_argument("--skip-transcode", action="store_true", help="serve a generated file, do not time ffmpeg")
    args = parser.parse_args()

    ensure_system_tools()
    load = os.getloadavg()[0]
    log(f"machine: {os.cpu_count()} cores, load average {load:.2f}")
    if load > (os.cpu_count() or 1):
        log("  warning: the machine is busy with other work; wall-clock figures will be noisy")
    work = Path(tempfile.mkdtemp(prefix="xueshi-bench-media-"))
    servers = Servers(work=work, media_root=work / "media", secret=secrets.token_hex(24))
    try:
        rendition = servers.media_root / KEY
        rendition.parent.mkdir(parents=True)
        transcode = None
        if args.skip_transcode:
            rendition.write_bytes(os.urandom(24 * MIB))
        else:
            log("transcoding a generated 60 s 1080p source to the ladder (app pipeline vs bare ffmpeg) ...")
            source = work / "source-1080p.mp4"
            make_source(source)
            transcode = time_transcode(source, work / "ladder")
            shutil.copyfile(transcode["rendition_720p"], rendition)
            log(f"  ladder via app: {transcode['app_s']:.1f} s wall, {transcode['app_cpu_s']:.1f} s CPU   "
                f"bare ffmpeg: {transcode['bare_s']:.1f} s wall (runs {transcode['bare_runs_s'][0]:.1f}, "
                f"{transcode['bare_runs_s'][1]:.1f}), {transcode['bare_cpu_s']:.1f} s CPU")
            log(f"  overhead {transcode['overhead']:+.1%} wall, {transcode['overhead_cpu']:+.1%} CPU   "
                f"speed {transcode['speed']:.2f}x real time on {os.cpu_count()} cores ({transcode['rungs']})")
        data = rendition.read_bytes()
        size = len(data)
        log(f"serving {KEY}: {size / MIB:.1f} MiB, sha256 {hashlib.sha256(data).hexdigest()[:16]}")

        g_accel = servers.start_gunicorn("x-accel", "x-accel", args.gunicorn_workers, args.gunicorn_threads)
        g_app = servers.start_gunicorn("app", "app", args.gunicorn_workers, args.gunicorn_threads)
        direct_port = free_port()
        direct = f"""
    server {{
        listen 127.0.0.1:{direct_port};
        sendfile on;
        tcp_nopush on;
        tcp_nodelay on;
        location /direct/ {{ alias {servers.media_root}/; }}
    }}"""
        n_secure = servers.start_nginx("secure-link", "secure-link", g_accel, extra_http=direct)
        n_accel = servers.start_nginx("x-accel", "x-accel", g_accel)
        wait_port(direct_port, servers.procs[-2], "nginx (direct)")

        signed = signing.sign_key(KEY, int(time.time()) + 3600, servers.secret).url
        plans = [
            ("nginx", direct_port, f"/direct/{KEY}", g_accel),
            ("secure_link", n_secure, signed, g_accel),
            ("x_accel", n_accel, signed, g_accel),
            ("app", g_app, signed, g_app),
        ]
        for name, port, target, _ in plans:
            try:
                check_answers(port, target, data, name)
            except OSError as exc:
                logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in work.glob("*/error.log"))
                logs += "\n".join(p.read_text(errors="replace")[-2000:] for p in work.glob("gunicorn-*.log"))
                raise SystemExit(f"{name}: no answer ({exc}); logs:\n{logs}")
        log(f"wrk: {args.connections} connections x {args.duration} s of random 1 MiB ranges, {args.rounds} rounds "
            f"per mode (interleaved); {args.slow_clients} slow clients; gunicorn gthread "
            f"{args.gunicorn_workers}x{args.gunicorn_threads}")
        run_wrk(direct_port, f"/direct/{KEY}", size, 1, args.connections, args.wrk_threads)  # warm-up
        runs: dict[str, list] = {name: [] for name, *_ in plans}
        for round_no in range(args.rounds):
            order = plans[round_no % len(plans):] + plans[:round_no % len(plans)]
            for name, port, target, health_port in order:
                runs[name].append(measure_once(name, port, target, size, health_port, args))
        results = {}
        for name, *_ in plans:
            results[name] = r = combine(name, runs[name])
            log(f"  {name:12s} {r['mib_s']:8.1f} MiB/s  {r['requests_s']:7.1f} req/s  "
                f"TTFB p50 {r['ttfb_p50_ms']:6.1f} ms p99 {r['ttfb_p99_ms']:6.1f} ms  "
                f"wrk p99 {r['wrk_latency_p99_ms']:6.1f} ms  errors {r['wrk_errors']}  rounds {r['mib_s_rounds']}  "
                f"/healthz {r['healthz_ok']} ok {r['healthz_failed']} failed p99 {r['healthz_p99_ms']:.1f} ms  "
                f"slow clients {r['slow_clients_kib_s']:.0f} KiB/s")
    finally:
        servers.stop()
        shutil.rmtree(work, ignore_errors=True)

    base = results["nginx"]["mib_s"]
    summary = {
        "nginx_mib_s": round(base, 1),
        "secure_link_ratio": round(results["secure_link"]["mib_s"] / base, 3),
        "x_accel_ratio": round(results["x_accel"]["mib_s"] / base, 3),
        "app_ratio": round(results["app"]["mib_s"] / base, 3),
        "transcode_overhead": round(transcode["overhead"], 4) if transcode else None,
        "transcode_speed": round(transcode["speed"], 2) if transcode else None,
        "ttfb_p99_ms": {k: round(v["ttfb_p99_ms"], 1) for k, v in results.items()},
        "mib_s": {k: round(v["mib_s"], 1) for k, v in results.items()},
        "app_healthz_ok_during_slow_clients": results["app"]["healthz_failed"] == 0 and results["app"]["healthz_ok"] > 0,
        "transcode_app_s": round(transcode["app_s"], 2) if transcode else None,
        "transcode_bare_s": round(transcode["bare_s"], 2) if transcode else None,
        "transcode_overhead_cpu": round(transcode["overhead_cpu"], 4) if transcode else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    targets = {"secure_link_ratio": 0.95, "x_accel_ratio": 0.7, "app_ratio": 0.2}
    log("ratios to nginx direct: " + ", ".join(
        f"{k} {summary[k]:.3f} (target >= {t}{'' if summary[k] >= t else ', MISSED'})" for k, t in targets.items()))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
