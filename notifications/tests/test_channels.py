"""Channel URLs: which are accepted, what people see of them, and what a reason may say.
Pure logic, no service."""

from __future__ import annotations

import pytest

from notifications.channels import mask_url, scrub, url_problem


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://hooks.example.com/services/T000/B000/XXXX", "https://hooks.example.com/…"),
        ("http://user:pw-secret@alerts.internal:9000/hook?token=abc", "http://alerts.internal:9000/…"),
        ("mailto:oncall@example.com", "mailto:o…@example.com"),
        ("mailto:a@example.com,bob@example.org", "mailto:a…@example.com,b…@example.org"),
        ("tgram://123456789:AAH-bot-token/987654321", "tgram://…"),
        ("slack://TokenA/TokenB/TokenC/#alerts", "slack://…"),
        ("not a url", "…"),
    ],
)
def test_people_see_the_scheme_and_host_only(url, masked):
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/x",
        "http://127.0.0.1:9000/hook",
        "mailto:ops@example.com",
        "mailto:ops@example.com,dba@example.com",
        "slack://TokenA/TokenB/TokenC/#alerts",
        "tgram://123456789:AAHbottoken/987654321",
        "json://127.0.0.1:9000/hook",
        "ntfy://ntfy.example.com/db-alerts",
    ],
)
def test_webhooks_mail_and_apprise_services_are_accepted(url):
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "Give a URL: use http(s)://… for a JSON webhook, mailto:… for e-mail"),
        ("hooks.example.com/x", "Not a URL (no scheme)"),
        ("https:///path-only", "A https:// webhook URL needs a host."),
        ("mailto:", "A mailto: URL needs an address"),
        ("mailto:not-an-address", "A mailto: URL holds an address that is not valid."),
        ("gopher://host/secret-token", "Unsupported scheme 'gopher': use http(s)://…"),
        ("tgram://", "The tgram:// URL is incomplete or malformed for that service"),
    ],
)
def test_unsupported_urls_are_refused_naming_the_scheme_not_the_url(url, problem):
    message = url_problem(url)
    assert message.startswith(problem)
    assert "secret-token" not in message and "path-only" not in message


def test_a_reason_is_scrubbed_of_every_secret_part_of_the_url():
    url = "http://ops:pa55-word@hooks.example.com:8443/services/T0KEN-123/x?key=qs-secret&mode=a"
    reason = f"failed: POST {url} said 401 at hooks.example.com for pa55-word, T0KEN-123 and qs-secret"
    cleaned = scrub(reason, url)
    for secret in ("pa55-word", "T0KEN-123", "qs-secret", "/services/"):
        assert secret not in cleaned
    assert "hooks.example.com" in cleaned and cleaned.startswith("failed: POST")
