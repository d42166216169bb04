"""Reading requests and writing responses: the JSON body, the query string, the encoder."""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import falcon
import msgspec

from api.errors import ApiError
from domain.queries import PageQuery

T = TypeVar("T")


def _encode_other(obj: Any) -> Any:
    """A datetime subclass (freezegun's clock in tests) as msgspec writes a datetime: RFC 3339, `Z` for UTC."""
    if isinstance(obj, datetime):
        return obj.isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


_encoder = msgspec.json.Encoder(enc_hook=_encode_other)


def _json_number(literal: str) -> int | float:
    """A JSON number with a fraction or exponent: an int when it is a whole number, as JSON Schema
    (and so /openapi.json) counts `2.0` and `1e3` as the integers 2 and 1000; a float otherwise."""
    value = Decimal(literal)
    if value == value.to_integral_value() and abs(value.adjusted()) <= 30:
        return int(value)
    return float(literal)


# Bodies are decoded untyped (numbers read as above), then converted to their shape.
_untyped = msgspec.json.Decoder(float_hook=_json_number)
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_FIELD = re.compile(r"field `(?P<field>.*)`", re.S)  # greedy: a name may hold a backtick


def raw_body(req: falcon.Request, max_bytes: int) -> bytes:
    """The request body, read once and kept on the request; 413 past `max_bytes`."""
    cached = getattr(req.context, "raw_body", None)
    if cached is not None:
        return cached
    if req.content_length is not None and req.content_length > max_bytes:
        raise ApiError(413, "body_too_large", f"The request body must be at most {max_bytes} bytes.")
    if req.content_length is None and req.env.get("wsgi.input_terminated"):
        # A chunked body (no Content-Length): Falcon's bounded stream would read nothing, but the
        # server (gunicorn) says its input ends where the body ends, so read it, bounded.
        data = req.stream.read(max_bytes + 1)
    else:
        data = req.bounded_stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(413, "body_too_large", f"The request body must be at most {max_bytes} bytes.")
    req.context.raw_body = data
    return data


def read_json(req: falcon.Request, shape: type[T], max_bytes: int) -> T:
    """Decode and type-check the JSON body; every failure is a 4xx naming the field."""
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the request body as application/json.")
    data = raw_body(req, max_bytes)
    try:
        decoded = msgspec.convert(_untyped.decode(data), type=shape)
    except msgspec.ValidationError as error:
        message, param = describe_validation_error(str(error))
        raise ApiError(400, "parameter_invalid", message, param) from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "The request body is not valid JSON (UTF-8).") from None
    except RecursionError:
        param = _too_deep(data)
        raise ApiError(400, "parameter_invalid", f"{param or 'The request body'} is nested too deeply.", param) from None
    if b"\\u0000" in data:  # PostgreSQL refuses NUL in text and jsonb: name it here, not as a 500 there
        param = _nul_at(decoded)
        if param is not None:
            raise ApiError(400, "parameter_invalid", f"{param} must not contain NUL characters", param)
    return decoded


def _nul_at(value: Any, path: str = "") -> str | None:
    """Where the first string (or key) holding a NUL is, named like msgspec names places: a
    struct's fields and list indexes, and a dict (metadata) by its own name."""
    if isinstance(value, str):
        return (path or None) if "\x00" in value else None
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            found = _nul_at(getattr(value, name), f"{path}.{name}" if path else name)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{path}[{index}]")
            if found is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if _nul_at(key, path) is not None or _nul_at(item, path) is not None:
                return path or None
    return None


def _too_deep(data: bytes, scan_bytes: int = 64 * 1024) -> str | None:
    """The top-level field in which the body nests past the decoder's limit: a scan of the first
    bytes for the key open when the nesting passes 256 (only run on a body already refused)."""
    depth, key, last_string, start, in_string, escaped = 0, None, None, 0, False, False
    for index, byte in enumerate(data[:scan_bytes]):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
                if depth == 1:
                    last_string = data[start:index]
        elif byte == 0x22:
            in_string, start = True, index + 1
        elif byte in b"[{":
            depth += 1
            if depth > 256:
                break
        elif byte in b"]}":
            depth -= 1
        elif byte == 0x3A and depth == 1:  # a colon: the last string was a top-level key
            key = last_string
    else:
        return None
    try:
        return msgspec.json.decode(b'"' + key + b'"', type=str) if key is not None else None
    except msgspec.DecodeError:
        return None


def describe_validation_error(text: str) -> tuple[str, str | None]:
    """msgspec's `Expected int, got str - at $.line_items[0].quantity` -> (message, 'line_items[0].quantity')."""
    path = ""
    match = _PATH.search(text)
    if match:
        # A dict value's path ends in `[...]` (msgspec does not say which key): name the dict.
        path = match.group("path").lstrip(".").split("[...]")[0]
        text = text[: match.start()]
    field = _FIELD.search(text)
    named = bool(field and ("unknown field" in text or "missing required field" in text))
    if named:
        path = f"{path}.{field.group('field')}" if path else field.group("field")
    param = path if path or named else None  # an unknown field may be named "" - that is its name
    if "unknown field" in text:
        return f"Received unknown parameter: {param or repr(param)}", param
    if "missing required field" in text:
        return f"Missing required parameter: {param}", param
    return (f"Invalid {param}: {text}" if param else f"Invalid request body: {text}"), param


def respond(resp: falcon.Response, body: Any, status: int = 200) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = _encoder.encode(body)


# ---- query strings --------------------------------------------------------------------------

def parse_query(req: falcon.Request, allowed: dict[str, Callable[[str, str], Any]]) -> dict[str, Any]:
    """Each known parameter once, converted; an unknown or repeated one is a 400 naming it."""
    values: dict[str, Any] = {}
    for name in req.params:
        if name not in allowed:
            raise ApiError(400, "parameter_unknown", f"Received unknown parameter: {name}", name)
        raw = req.params[name]
        if isinstance(raw, list):
            raise ApiError(400, "parameter_invalid", f"{name} may be given once", name)
        values[name] = allowed[name](raw, name)
    return values


def int_param(raw: str, name: str) -> int:
    # [0-9], not \d: Python's \d and int() also read other scripts' digits ("１０" is 10).
    if not re.fullmatch(r"-?[0-9]{1,12}", raw):
        raise ApiError(400, "parameter_invalid", f"{name} must be an integer", name)
    return int(raw)


def bool_param(raw: str, name: str) -> bool:
    if raw not in ("true", "false"):
        raise ApiError(400, "parameter_invalid", f"{name} must be true or false", name)
    return raw == "true"


def str_param(raw: str, name: str) -> str:
    if not raw or len(raw) > 255 or "\x00" in raw:
        raise ApiError(400, "parameter_invalid", f"{name} must be a non-empty string of at most 255 characters", name)
    return raw


def time_param(raw: str, name: str) -> datetime:
    """RFC 3339 with a zone, or Unix seconds."""
    if re.fullmatch(r"[0-9]{1,11}", raw):
        return datetime.fromtimestamp(int(raw), UTC)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ApiError(400, "parameter_invalid", f"{name} must be an RFC 3339 time with a zone, or Unix seconds", name)
    return value


def one_of(*choices: str) -> Callable[[str, str], str]:
    def convert(raw: str, name: str) -> str:
        if raw not in choices:
            raise ApiError(400, "parameter_invalid", f"{name} must be one of {', '.join(choices)}", name)
        return raw
    return convert


def page_query(params: dict[str, Any], filters: Sequence[str] = ()) -> PageQuery:
    """A list request's parsed query -> the domain's `PageQuery` (cursor, limit, created range and
    the given filter names that are present)."""
    return PageQuery(limit=params.get("limit", 10), starting_after=params.get("starting_after"),
                     ending_before=params.get("ending_before"), created_gte=params.get("created[gte]"),
                     created_lte=params.get("created[lte]"),
                     filters={name: params[name] for name in filters if name in params})
