# gunicorn settings of Xueshi's app server: `make run`, the benchmarks and production use this file.
#
#   gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:8000 wsgi:app
#
# WORKERS (processes, default 4) and THREADS (per process, default 4) come from the environment.
# Four processes of four threads served 13 % more heartbeats than two of eight on two cores
# (Python runs one thread of a process at a time), and the same /healthz rate (README, Benchmarks).
# The worker is gunicorn's gthread worker taking a new connection only when it has a thread free
# (app/common/serving.py): kept-alive connections (nginx's upstream pool, browsers) then spread over
# the processes instead of piling onto whichever was awake when they opened.
import os

worker_class = "app.common.serving.ThreadWorker"
workers = int(os.environ.get("WORKERS", "4"))
threads = int(os.environ.get("THREADS", "4"))
# The same access log lines as gunicorn's logger, for a fraction of the cost (app/common/serving.py).
logger_class = "app.common.serving.Logger"
