"""Where messages go: the rule's URL picks the channel by its scheme.

- `http://`, `https://`: a JSON webhook, POSTed with `requests`.
- `mailto:`: e-mail through Django's mail backend (SMTP settings from the environment).
- any other scheme: a chat or push service through apprise (`slack://`, `tgram://`,
  `discord://`, `mmost://`, `ntfy://`, `json://`… about a hundred services behind one URL
  syntax), rather than code of our own per service.

A URL may hold a secret (a bot token, a webhook path, a password), so nothing here ever puts
one in a message: people see `mask_url`, and every failure reason passes through `scrub`.
Every send is bounded by NOTIFY_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import logging
import re
import smtplib
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
import requests
from apprise.manager_plugins import NotificationManager
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection, send_mail
from django.core.validators import validate_email

WEBHOOK_SCHEMES = ("http", "https")
MAIL_SCHEME = "mailto"
HINT = (
    "use http(s)://… for a JSON webhook, mailto:… for e-mail, or a chat service's URL "
    "(slack://, tgram://, discord://, mmost://, ntfy://, … as apprise documents them)"
)


class DeliveryError(Exception):
    """The message was not delivered; the text is the reason, free of the URL's secrets."""


@dataclass(frozen=True)
class Message:
    """One event as every channel needs it."""

    title: str
    body: str
    payload: dict[str, Any] = field(default_factory=dict)  # the webhook's JSON body
    severity: str = "info"
    good_news: bool = False  # a recovery or a resolution


def scheme_of(url: str) -> str:
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", url.strip())
    return match.group(1).lower() if match else ""


@cache
def _apprise_schemes() -> frozenset[str]:
    return frozenset(NotificationManager().schemas())


def url_problem(url: str) -> str | None:
    """Why the URL cannot be a channel, or None. Names the scheme, never the URL."""
    url = (url or "").strip()
    if not url:
        return f"Give a URL: {HINT}."
    scheme = scheme_of(url)
    if not scheme:
        return f"Not a URL (no scheme): {HINT}."
    if scheme in WEBHOOK_SCHEMES:
        if not urlsplit(url).hostname:
            return f"A {scheme}:// webhook URL needs a host."
        return None
    if scheme == MAIL_SCHEME:
        addresses = mail_recipients(url)
        if not addresses:
            return "A mailto: URL needs an address, e.g. mailto:ops@example.com."
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                return "A mailto: URL holds an address that is not valid."
        return None
    if scheme not in _apprise_schemes():
        return f"Unsupported scheme {scheme!r}: {HINT}."
    if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
        return f"The {scheme}:// URL is incomplete or malformed for that service (see its apprise documentation)."
    return None


def mail_recipients(url: str) -> list[str]:
    path = urlsplit(url.strip()).path
    return [unquote(address).strip() for address in path.split(",") if address.strip()]


def mask_url(url: str) -> str:
    """What people may see of a URL: the scheme and host, never a path, token or password.

    `https://hooks.example.com/…`, `mailto:o…@example.com`, `tgram://…`.
    """
    url = (url or "").strip()
    scheme = scheme_of(url)
    if scheme in WEBHOOK_SCHEMES:
        parts = urlsplit(url)
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            port = ""
        return f"{scheme}://{parts.hostname or ''}{port}/…"
    if scheme == MAIL_SCHEME:
        masked = []
        for address in mail_recipients(url):
            local, _, domain = address.rpartition("@")
            masked.append(f"{local[:1]}…@{domain}" if local else "…")
        return f"mailto:{','.join(masked)}"
    return f"{scheme}://…" if scheme else "…"


def _secret_parts(url: str) -> list[str]:
    """Every piece of the URL that could be a secret: all but the scheme, the host and the port."""
    parts = urlsplit(url)
    try:
        keep = {parts.scheme, parts.hostname or "", str(parts.port or "")}
    except ValueError:
        keep = {parts.scheme, parts.hostname or ""}
    pieces = {url, parts.netloc.rpartition("@")[0], parts.path, parts.query}
    pieces |= {value for _, value in parse_qsl(parts.query)}
    for piece in re.split(r"[/:@?&=#,;]+", url):
        pieces |= {piece, unquote(piece)}
    for secret in (parts.username, parts.password):
        if secret:
            pieces |= {secret, unquote(secret)}
    candidates = {p for p in pieces if p and p not in keep and len(p) >= 4}
    return sorted(candidates, key=len, reverse=True)  # longest first: a token before its prefix


def scrub(text: str, url: str) -> str:
    """`text` with every secret-looking part of `url` replaced by "…"."""
    for piece in _secret_parts(url):
        text = text.replace(piece, "…")
    return text


def send(url: str, message: Message, timeout: float | None = None) -> None:
    """Deliver `message` to `url`; raises DeliveryError with a secret-free reason."""
    timeout = timeout or settings.NOTIFY_TIMEOUT_SECONDS
    scheme = scheme_of(url)
    try:
        if scheme in WEBHOOK_SCHEMES:
            _post_webhook(url, message, timeout)
        elif scheme == MAIL_SCHEME:
            _send_mail(url, message, timeout)
        else:
            _notify_apprise(url, message, timeout)
    except DeliveryError as exc:
        raise DeliveryError(scrub(str(exc), url)) from None


def _post_webhook(url: str, message: Message, timeout: float) -> None:
    try:
        response = requests.post(
            url,
            json=message.payload,
            timeout=(timeout, timeout),
            allow_redirects=False,  # a redirect could carry the body (and the token) elsewhere
            headers={"User-Agent": "postgresql-reviewer"},
        )
    except requests.Timeout:
        raise DeliveryError(f"no answer from {mask_url(url)} within {timeout:g} s") from None
    except requests.ConnectionError:
        raise DeliveryError(f"could not connect to {mask_url(url)}") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"request to {mask_url(url)} failed ({type(exc).__name__})") from None
    with response:
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"HTTP {response.status_code} from {mask_url(url)}")


def _send_mail(url: str, message: Message, timeout: float) -> None:
    email_timeout = settings.EMAIL_TIMEOUT or timeout
    try:
        connection = get_connection(timeout=email_timeout, fail_silently=False)
        send_mail(
            message.title,
            message.body,
            settings.DEFAULT_FROM_EMAIL,
            mail_recipients(url),
            connection=connection,
            fail_silently=False,
        )
    except TimeoutError:
        raise DeliveryError(f"the mail server did not answer within {email_timeout:g} s") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"the mail server refused the message (SMTP {exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryError(f"the mail server refused the recipient {mask_url(url)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"could not send the e-mail ({type(exc).__name__})") from None


def _notify_apprise(url: str, message: Message, timeout: float) -> None:
    service = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if service is None:
        raise DeliveryError(f"{mask_url(url)} is not a URL apprise can use")
    # Each socket operation and the whole call are bounded.
    service.socket_connect_timeout = service.socket_read_timeout = float(timeout)
    notifier = apprise.Apprise()
    notifier.add(service)
    if message.good_news:
        notify_type = apprise.NotifyType.SUCCESS
    else:
        notify_type = {"critical": apprise.NotifyType.FAILURE, "warning": apprise.NotifyType.WARNING}.get(
            message.severity, apprise.NotifyType.INFO
        )
    result = notifier.notify(
        body=message.body, title=message.title, notify_type=notify_type, timeout=timeout, log_level=logging.WARNING
    )
    if not result:
        said = [entry.message for entry in result.logs() if entry.message]
        reason = said[-1] if said else "the service did not accept the message"
        raise DeliveryError(f"{mask_url(url)}: {reason}")
