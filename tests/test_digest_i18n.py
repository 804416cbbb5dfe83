"""Every string the e-mails show has a Spanish translation, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from conftest import ROOT
from jinja2.ext import babel_extract

from tracker.digest import Renderer, translations

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
JINJA_OPTIONS = {"trim_blocks": "true", "lstrip_blocks": "true"}


def source_messages() -> set[str]:
    found: set[str] = set()
    templates = sorted((ROOT / "templates" / "email").glob("*.*"))
    assert templates
    for path in templates:
        for _, message, _, _ in extract_from_file(
            babel_extract, str(path), keywords=KEYWORDS, options=JINJA_OPTIONS
        ):
            found.add(message if isinstance(message, str) else message[0])
    for _, message, _, _ in extract_from_file(
        "python", str(ROOT / "tracker" / "digest.py"), keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalog() -> dict[str, object]:
    path = ROOT / "templates" / "locale" / "es" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale="es_US")
    return {
        (m.id if isinstance(m.id, str) else m.id[0]): m
        for m in po
        if m.id and not m.fuzzy and (m.string if isinstance(m.string, str) else all(m.string))
    }


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\(\w+\)[sd]", text))


def test_every_string_is_translated_to_spanish() -> None:
    wanted = source_messages()
    translated = catalog()
    missing = sorted(wanted - set(translated))
    assert not missing, f"no Spanish for: {missing}"


def test_translations_keep_their_placeholders() -> None:
    for message in catalog().values():
        ids = [message.id] if isinstance(message.id, str) else list(message.id)  # type: ignore[attr-defined]
        strings = (
            [message.string]  # type: ignore[attr-defined]
            if isinstance(message.string, str)  # type: ignore[attr-defined]
            else list(message.string)  # type: ignore[attr-defined]
        )
        for text in strings:
            assert placeholders(text) == placeholders(ids[-1]), ids[0]


def test_catalog_compiles_in_memory() -> None:
    es = translations("es")
    assert es.gettext("Unsubscribe") == "Cancelar la suscripción"
    assert es.ngettext("%(num)d vote", "%(num)d votes", 2) == "%(num)d votaciones"
    assert not list(Path(ROOT / "templates" / "locale").rglob("*.mo"))  # built, not committed


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "Tuesday, March 4, 2031, 10:00 AM PST"), ("es", "martes, 4 de marzo de 2031")],
)
def test_local_dates(language: str, expected: str) -> None:
    from datetime import UTC, datetime

    r = Renderer(language, base_url="https://tracker.example.org")
    shown = r.when(datetime(2031, 3, 4, 18, 0, tzinfo=UTC), "America/Los_Angeles")
    assert shown.replace("\u202f", " ").startswith(expected)  # CLDR: a narrow space before AM
