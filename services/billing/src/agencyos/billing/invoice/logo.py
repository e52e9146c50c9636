"""The agency's logo for its invoice PDFs, from `logo_url`.

- `data:image/png|jpeg|gif;base64,...` is decoded in place.
- `https://` is fetched with a short timeout and a size cap, without following redirects, and
  only from a host that resolves to public addresses (the billing service must not be made to
  fetch from inside the cluster).
- Anything else, anything too large, not a PNG, JPEG or GIF, or any failure: no logo; the PDF
  is rendered without it (a logo never stops an invoice).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import re
from urllib.parse import urlsplit

import httpx

from agencyos.common.logs import get_logger

log = get_logger(__name__)

MAX_LOGO_BYTES = 512 * 1024
FETCH_TIMEOUT_SECONDS = 3.0
_DATA_URL = re.compile(r"^data:image/(png|jpeg|jpg|gif);base64,(?P<data>[A-Za-z0-9+/=\s]+)$")
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def _is_raster_image(data: bytes) -> bool:
    return any(data.startswith(magic) for magic in _MAGIC)


def _from_data_url(url: str) -> bytes | None:
    match = _DATA_URL.match(url)
    if match is None or len(url) > MAX_LOGO_BYTES * 4 // 3 + 64:
        return None
    try:
        data = base64.b64decode(match.group("data"), validate=False)
    except (binascii.Error, ValueError):
        return None
    return data if _is_raster_image(data) and len(data) <= MAX_LOGO_BYTES else None


async def _public_host(host: str, port: int) -> bool:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port)
    except OSError:
        return False
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return False
    return bool(infos)


async def _fetch(url: str) -> bytes | None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    if not await _public_host(parts.hostname, parts.port or 443):
        return None
    async with (
        httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False) as client,
        client.stream("GET", url, headers={"Accept": "image/png,image/jpeg,image/gif"}) as resp,
    ):
        if resp.status_code != 200:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > MAX_LOGO_BYTES:
                return None
            chunks.append(chunk)
    data = b"".join(chunks)
    return data if _is_raster_image(data) else None


async def load_logo(url: str | None) -> bytes | None:
    """The logo's bytes, or None (see the module docstring)."""
    if not url:
        return None
    if url.startswith("data:"):
        return _from_data_url(url)
    try:
        return await asyncio.wait_for(_fetch(url), FETCH_TIMEOUT_SECONDS * 2)
    except (httpx.HTTPError, OSError, TimeoutError, ValueError) as exc:
        log.info("the agency logo could not be fetched; rendering without it", error=repr(exc))
        return None
