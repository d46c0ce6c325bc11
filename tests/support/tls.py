"""What the clients a TLS server must turn away get from it (issue 20, item 5): one that does not trust the server's
CA (the system's CAs, which do not know a throw-away one) and one that speaks plain HTTP to the TLS port."""

from __future__ import annotations

import ssl

import aiohttp

CERTIFICATE_REFUSED = "certificate refused"
NO_HTTP_ANSWER = "no HTTP answer"


async def untrusted_and_plain(session: aiohttp.ClientSession, method: str, address: str) -> tuple[str, str]:
    """``method`` on ``address`` (``host:port/path?query``) over HTTPS trusting the system's CAs only, then over plain
    HTTP (5 s at most): (CERTIFICATE_REFUSED or "answered", NO_HTTP_ANSWER or "HTTP <status>")."""
    try:
        async with session.request(method, f"https://{address}", ssl=ssl.create_default_context()):
            untrusted = "answered"
    except aiohttp.ClientConnectorCertificateError:
        untrusted = CERTIFICATE_REFUSED
    try:
        async with session.request(method, f"http://{address}", timeout=aiohttp.ClientTimeout(total=5)) as answer:
            plain = f"HTTP {answer.status}"
    except (aiohttp.ClientError, TimeoutError):
        plain = NO_HTTP_ANSWER
    return untrusted, plain
