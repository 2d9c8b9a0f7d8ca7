"""Run media code in a separate process against a test's database and MEDIA_ROOT (worker tests).

    python -m tests.media.subproc '<json config overrides>' job <job_id>
    python -m tests.media.subproc '<json config overrides>' worker
"""
import json
import sys


def main(argv: list[str]) -> int:
    from app import create_app
    from config import TestingConfig

    overrides = json.loads(argv[0])
    config = type("SubprocessConfig", (TestingConfig,), overrides)
    app = create_app(config)
    if argv[1] == "job":
        from app.media import service

        with app.app_context():
            print(service.do_run_transcode_job(int(argv[2])), flush=True)
        return 0
    if argv[1] == "worker":
        from flask.cli import ScriptInfo

        app.cli.main(["media", "worker"], obj=ScriptInfo(create_app=lambda: app), standalone_mode=False)
        return 0
    raise SystemExit(f"unknown command {argv[1]!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
