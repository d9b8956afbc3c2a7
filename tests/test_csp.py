"""The Content-Security-Policy header, and templates that can live under it.

The browser tests (tests/e2e) are what prove the pages pass the policy; these
say what the policy is, and catch inline script or style in a template before
a browser has to.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import client_for

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def test_every_page_gets_the_policy_with_nothing_inline_allowed(aiko):
    for response in (
        Client().get("/accounts/login/"),
        client_for(aiko).get("/"),
        client_for(aiko).get("/communities/", headers={"HX-Request": "true"}),
    ):
        assert policy(response) == {
            "default-src": ["'self'"],
            "script-src": ["'self'"],
            "style-src": ["'self'"],
            "img-src": ["'self'"],
            "connect-src": ["'self'", "ws://testserver"],
            "object-src": ["'none'"],
            "base-uri": ["'none'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
        }


def test_the_live_socket_origin_follows_the_request(aiko, settings):
    settings.ALLOWED_HOSTS = ["enishi.example"]
    client = client_for(aiko)

    plain = client.get("/", HTTP_HOST="enishi.example:8000")
    secure = client.get("/", HTTP_HOST="enishi.example", secure=True)

    assert policy(plain)["connect-src"] == ["'self'", "ws://enishi.example:8000"]
    assert policy(secure)["connect-src"] == ["'self'", "wss://enishi.example"]


# What the policy refuses, as it would appear in a template's source.
INLINE = {
    "a <script> with a body": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "a <style> block": re.compile(r"<style[\s>]", re.I),
    "a style attribute": re.compile(r"\sstyle=", re.I),
    "an on* attribute": re.compile(r"<[a-z][^>]*\son[a-z]+=", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
}


def test_no_template_has_inline_script_or_style():
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 20
    found = []
    for template in templates:
        source = template.read_text()
        # Django comments may describe what they avoid.
        source = re.sub(
            r"{#.*?#}|{% comment %}.*?{% endcomment %}", "", source, flags=re.S
        )
        for what, pattern in INLINE.items():
            for match in pattern.finditer(source):
                line = source.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(TEMPLATES)}:{line}: {what}")
    assert not found, "\n".join(found)


def test_the_check_finds_inline_script_and_style():
    # The control for the scan above.
    source = (
        '<script>alert(1)</script><script src="/static/x.js"></script>'
        '<style>p{}</style><p style="color:red" onclick="go()">'
        '<a href="javascript:go()">'
    )
    hits = {what for what, pattern in INLINE.items() if pattern.search(source)}
    assert hits == set(INLINE)
    assert not INLINE["a <script> with a body"].search('<script src="/x.js" defer>')
