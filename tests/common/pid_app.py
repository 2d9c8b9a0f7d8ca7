"""A WSGI app for the gunicorn worker tests: answers with the pid of the worker process that served it."""
import os


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)  # a test holds the worker's thread here by sending the body late
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
