"""The web worker's WSGI environ is what gunicorn's WSGI workers build, from the ASGI scope."""
import asyncio

from api.gunicorn_worker import CompleteRequests, wsgi_environ

SCOPE = {"type": "http", "method": "POST", "http_version": "1.1", "scheme": "http", "path": "/x/\u00ff",
         "raw_path": b"/api/a%2Fb/%FF%FE", "query_string": b"limit=2&x=%C3%A9", "server": ("127.0.0.1", 8000),
         "client": ("2001:db8::1", 51000),
         "headers": [(b"content-type", b"application/json"), (b"content-length", b"2"), (b"x-forwarded-for", b"1.2.3.4"),
                     (b"x-forwarded-for", b"5.6.7.8"), (b"accept", b"text/html")]}


def test_environ_from_scope():
    environ = wsgi_environ(SCOPE, b"{}")
    assert environ["PATH_INFO"] == "/api/a/b/\xff\xfe"  # percent-decoded bytes as latin-1, like gunicorn
    assert environ["QUERY_STRING"] == "limit=2&x=%C3%A9"
    assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"]) == ("application/json", "2")
    assert environ["HTTP_X_FORWARDED_FOR"] == "1.2.3.4,5.6.7.8" and environ["HTTP_ACCEPT"] == "text/html"
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("2001:db8::1", "51000")
    assert environ["wsgi.input"].read() == b"{}" and environ["wsgi.input_terminated"] is True


def test_a_request_is_run_only_once_its_body_is_complete():
    seen = []

    def app(environ, start_response):
        seen.append(environ["wsgi.input"].read())
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"made"]

    messages = iter([{"type": "http.request", "body": b'{"a"', "more_body": True},
                     {"type": "http.request", "body": b": 1}", "more_body": False}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    asyncio.run(CompleteRequests(app, threads=1, max_body_bytes=100)(SCOPE, receive, send))
    assert seen == [b'{"a": 1}']
    assert sent == [{"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"text/plain")]},
                    {"type": "http.response.body", "body": b"made"}]


def test_an_oversized_body_is_read_only_past_the_limit():
    chunks = iter([{"type": "http.request", "body": b"x" * 60, "more_body": True}] * 10)
    read = []

    def app(environ, start_response):
        read.append(len(environ["wsgi.input"].read()))
        start_response("413 Content Too Large", [])
        return [b""]

    async def receive():
        return next(chunks)

    async def send(message):
        pass

    asyncio.run(CompleteRequests(app, threads=1, max_body_bytes=100)(SCOPE, receive, send))
    assert read == [120]  # enough for the app to see it is over 100 bytes, not all 600
