# gunicorn settings of Xueshi's app server: `make run`, the benchmarks and production use this file.
#
#   gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:8000 wsgi:app
#
# WORKERS (processes, default 4) and THREADS (per process, default 4) come from the environment.
# Python runs one thread of a process at a time, so on a few cores several processes of a few
# threads serve more than one process of many. gunicorn's own gthread worker and logger.
import os

worker_class = "gthread"
workers = int(os.environ.get("WORKERS", "4"))
threads = int(os.environ.get("THREADS", "4"))
