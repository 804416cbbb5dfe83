"""Every string the web pages, calendars and feeds show has a Spanish translation in the
e-mails' catalog (templates/locale), and the Spanish pages use it."""

from __future__ import annotations

from babel.messages.extract import extract_from_file
from conftest import ROOT
from jinja2.ext import babel_extract
from test_digest_i18n import KEYWORDS, catalog, placeholders

from tracker.web_render import renderer

JINJA_OPTIONS = {"trim_blocks": "true", "lstrip_blocks": "true"}
PYTHON_SOURCES = [
    *sorted(ROOT.glob("tracker/web*.py")),
    ROOT / "tracker" / "feeds.py",
    ROOT / "tracker" / "site.py",
]


def web_messages() -> set[str]:
    found: set[str] = set()
    templates = [p for p in (ROOT / "templates" / "web").rglob("*.*") if p.suffix != ".css"]
    assert len(templates) > 10
    for path in templates:
        for _, message, _, _ in extract_from_file(
            babel_extract, str(path), keywords=KEYWORDS, options=JINJA_OPTIONS
        ):
            found.add(message if isinstance(message, str) else message[0])
    for path in PYTHON_SOURCES:
        for _, message, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_web_string_is_translated_to_spanish() -> None:
    wanted = web_messages()
    assert len(wanted) > 200
    missing = sorted(wanted - set(catalog()))
    assert not missing, f"no Spanish for: {missing}"


def test_the_template_file_lists_every_web_string() -> None:
    pot = (ROOT / "templates" / "locale" / "messages.pot").read_text(encoding="utf-8")
    for message in web_messages():
        first_line = message.split("\n")[0][:40].replace('"', '\\"')
        assert first_line in pot, message


def test_spanish_labels_and_plurals() -> None:
    es = renderer("es")
    assert es.gettext("How this works") == "Cómo funciona"
    assert es.t.ngettext("%(num)d ICE item", "%(num)d ICE items", 2) == "%(num)d asuntos de ICE"
    assert es.label({"cancelled": "cancelled"}, "cancelled") == "cancelada"
    for message in catalog().values():
        ids = [message.id] if isinstance(message.id, str) else list(message.id)  # type: ignore[attr-defined]
        strings = message.string  # type: ignore[attr-defined]
        for text in [strings] if isinstance(strings, str) else list(strings):
            assert placeholders(text) == placeholders(ids[-1]), ids[0]
