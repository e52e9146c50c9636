"""One canonical path per request, checked once at the edge.

The gateway routes, rate-limits and forwards by path, and each of those must see the same
path the service will see. So the path is taken from the raw request target (the ASGI
`raw_path`, exactly the bytes on the wire), decoded once, and refused unless it is already
canonical: no `.`/`..` segments in any spelling, no encoded `/`, no `\\`, no empty segment, no
control character, no `;` parameters, nothing left over from a second encoding. What passes is
forwarded as those same raw bytes (see proxy.py), and a service decodes them to the same path.
"""

from __future__ import annotations

import re
import unicodedata

from starlette.types import ASGIApp, Receive, Scope, Send

from agencyos.common.errors import InvalidPath, NotFound
from agencyos.common.problems import problem_response

# RFC 3986 `pchar` plus `/` and `%`: what may appear unencoded in a path. Everything else
# (controls, space, `"<>\\^`{|}`, bytes past ASCII) must be percent-encoded by the client.
_RAW_ALLOWED = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/%"
)
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")
_PERCENT_ANY = re.compile(rb"%(.{0,2})", re.S)
# A `%XX` still present after the one decoding: the path was encoded twice.
_ENCODED_AGAIN = re.compile(r"%[0-9A-Fa-f]{2}")
# Never legitimate in an API path once decoded. `?` and `#` because a URL parser reading the
# decoded path would end it there, while the service reads on.
_FORBIDDEN_DECODED = frozenset("/\\;?#")

# Served by every service for the cluster only; never forwarded, under any prefix.
INTERNAL_ENDPOINTS = frozenset({"metrics", "healthz", "readyz", "openapi.json", "docs", "redoc"})


def canonical_path(raw_path: bytes) -> str:
    """The decoded path of `raw_path` (no query string), or InvalidPath when it is not
    canonical. Decodes exactly once."""
    if not raw_path.startswith(b"/"):
        raise InvalidPath("the path must start with '/'")
    if any(byte not in _RAW_ALLOWED for byte in raw_path):
        raise InvalidPath("the path has a character that must be percent-encoded")
    for match in _PERCENT_ANY.finditer(raw_path):
        if not _PERCENT.fullmatch(match.group(0)):
            raise InvalidPath("the path has a malformed percent-encoding")
    try:
        # Strict UTF-8 refuses overlong forms (`%c0%ae` for '.') and lone surrogates.
        decoded = _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), raw_path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPath("the path is not valid UTF-8 once decoded") from exc
    if _ENCODED_AGAIN.search(decoded):
        raise InvalidPath("the path is percent-encoded twice")
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in decoded):
        raise InvalidPath("the path has a control character")
    segments = raw_path.split(b"/")[1:]
    for raw_segment in segments[:-1] if segments[-1] == b"" else segments:
        # An empty segment (`//`) is refused; one trailing slash is not.
        _check_segment(raw_segment)
    return decoded


def _check_segment(raw_segment: bytes) -> None:
    segment = _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), raw_segment).decode("utf-8")
    if segment == "":
        raise InvalidPath("the path has an empty segment")
    # NFKC as well: a later step that folds compatibility characters must not be able to turn
    # fullwidth full stops or solidus (U+FF0E, U+FF0F) into a traversal.
    for form in (segment, unicodedata.normalize("NFKC", segment)):
        if form.strip(".") == "":
            raise InvalidPath("the path has a '.' or '..' segment")
        if _FORBIDDEN_DECODED & set(form):
            raise InvalidPath("the path has an encoded '/', '?' or '#', a '\\' or a ';'")


def check_forwardable(path: str) -> None:
    """Refuses (404) a path naming a service's internal endpoint, whatever the prefix."""
    if INTERNAL_ENDPOINTS & set(path.lower().split("/")):
        raise NotFound("no such route")


class CanonicalPathMiddleware:
    """Refuses a non-canonical path (400 problem+json) before anything else looks at it, and
    leaves `scope["path"]` the one decoding of `scope["raw_path"]` for everything after."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path: bytes | None = scope.get("raw_path")
        if not raw_path:
            # Every real server passes the raw target; without one there is nothing to check.
            raw_path = scope["path"].encode("utf-8")
        raw_path = raw_path.partition(b"?")[0]
        try:
            path = canonical_path(raw_path)
        except InvalidPath as exc:
            await problem_response(exc)(scope, receive, send)
            return
        scope["path"] = path
        scope["raw_path"] = raw_path
        await self.app(scope, receive, send)
