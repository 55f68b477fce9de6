"""Security review D5: every form that changes state carries the CSRF field.

The web refuses a POST without this browser's CSRF token, so a form without the field would
fail for everyone; a new form that forgets it fails here first.
"""

from __future__ import annotations

import re

from il2.web.core import TEMPLATES

_POST_FORM = re.compile(r"<form\b[^>]*\bmethod=[\"']?post\b[^>]*>(.*?)</form>", re.I | re.S)
_FIELD = "{{ csrf_input() }}"


def test_every_post_form_in_the_templates_renders_the_csrf_field() -> None:
    forms = {
        (path.name, index): body
        for path in sorted(TEMPLATES.glob("*.html"))
        for index, body in enumerate(_POST_FORM.findall(path.read_text(encoding="utf-8")))
    }
    assert len(forms) >= 14  # the scan finds the forms (sign-in, sign-out, the records, admin)
    assert [where for where, body in forms.items() if _FIELD not in body] == []


def test_the_scan_catches_a_form_without_the_field() -> None:
    page = '<form method="post" action="/x"><button>Go</button></form>'
    assert [body for body in _POST_FORM.findall(page) if _FIELD not in body] != []
