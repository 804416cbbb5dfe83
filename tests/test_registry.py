"""The registry format: the bundled file validates, and every mistake names file, line, key."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from tracker.exceptions import RegistryError, UnknownJurisdiction
from tracker.jurisdictions import STATE_TIMEZONES, detect_platform
from tracker.registry import (
    BUNDLED_REGISTRY,
    CivicClerkConfig,
    CivicPlusConfig,
    DocumentsConfig,
    Entry,
    GranicusConfig,
    LegistarConfig,
    LegistarWebConfig,
    NovusAgendaConfig,
    load_registry,
    parse_registry,
)

GOOD = """\
[[jurisdiction]]
slug = "first-town"
name = "First Town"
state = "IL"
kind = "town"
timezone = "America/Chicago"
platform = "legistar"

[jurisdiction.legistar]
client = "firsttown"

[jurisdiction.votes]
"Aye" = "yes"
"Out of Room" = "absent"

[jurisdiction.public_comment]
how = "Sign up at the clerk's desk."
signup_url = "https://example.org/comment"
deadline_hours_before = 24
time_limit_minutes = 3
"""


def test_bundled_registry_is_valid() -> None:
    registry = load_registry()
    assert len(registry) >= 70
    entries = list(registry)
    assert len({e.slug for e in entries}) == len(entries)
    seattle = registry.get("seattle")
    assert seattle.legistar is not None
    assert seattle.legistar.client == "seattle"
    assert seattle.zone.key == "America/Los_Angeles"
    assert "webapi.legistar.com" in seattle.domains()


def test_a_good_entry_parses() -> None:
    [entry] = parse_registry(GOOD, "mine.toml")
    assert entry.slug == "first-town"
    assert entry.votes["Out of Room"] == "absent"
    assert entry.public_comment is not None
    assert entry.public_comment.deadline_hours_before == 24


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        (GOOD.replace('state = "IL"', 'state = "IL"\ncolour = "red"'), 5, "colour", "unknown key"),
        (
            GOOD.replace('client = "firsttown"', 'client = "firsttown"\ntokn = "x"'),
            11,
            "legistar.tokn",
            "unknown key",
        ),
        (
            GOOD.replace('timezone = "America/Chicago"', 'timezone = "Mars/Olympus"'),
            6,
            "timezone",
            "unknown IANA timezone",
        ),
        (GOOD.replace('"Aye" = "yes"', '"Aye" = "yea"'), 13, "votes.Aye", "Input should be"),
        (GOOD.replace('name = "First Town"\n', ""), 1, "name", "required key is missing"),
        (GOOD.replace('slug = "first-town"', 'slug = "First Town"'), 2, "slug", "lower-case"),
        (
            GOOD.replace('signup_url = "https://example.org/comment"', 'signup_url = "ftp://x"'),
            18,
            "public_comment.signup_url",
            "not an http(s) URL",
        ),
        (GOOD + "\n" + GOOD, 23, "slug", "duplicate slug"),
        (
            GOOD.replace('[jurisdiction.legistar]\nclient = "firsttown"\n', ""),
            1,
            "legistar",
            "needs a [legistar] table",
        ),
    ],
)
def test_bad_entries_name_file_line_and_key(text: str, line: int, key: str, message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_registry(text, "mine.toml")
    error = caught.value
    assert (error.path, error.line, error.key) == ("mine.toml", line, key)
    assert message in str(error)
    assert str(error).startswith(f"mine.toml:{line}: {key}: ")


def test_toml_syntax_errors_carry_the_line() -> None:
    with pytest.raises(RegistryError) as caught:
        parse_registry(GOOD.replace('kind = "town"', "kind = town"), "mine.toml")
    assert caught.value.line == 5
    assert "not valid TOML" in str(caught.value)


def test_user_file_adds_and_overrides(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(
        GOOD + GOOD.replace("first-town", "seattle").replace("firsttown", "sea"), encoding="utf-8"
    )
    registry = load_registry([mine])
    assert registry.get("first-town").name == "First Town"
    seattle = registry.get("seattle")
    assert seattle.legistar is not None
    assert seattle.legistar.client == "sea"
    assert registry.sources["seattle"] == str(mine)
    assert registry.sources["boston"] == str(BUNDLED_REGISTRY)


def test_missing_file_and_unknown_slug_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no such registry file"):
        load_registry([tmp_path / "absent.toml"])
    with pytest.raises(UnknownJurisdiction, match="no jurisdiction 'nowhere'"):
        load_registry().get("nowhere")


def test_cli_reports_a_bad_registry_in_one_line(tmp_path: Path) -> None:
    from conftest import run_tracker

    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace('kind = "town"', 'kind = "village"'), encoding="utf-8")
    result = run_tracker("jurisdictions", "--registry", bad, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"ice-tracker: error: {bad}:5: kind: Input should be 'city', 'county', 'town', "
        "'consolidated' or 'district'"
    ]


# -- The bundled registry's contents (issue #9) ----------------------------------------------

BUNDLED = list(load_registry(bundled=True))

# Slugs other tests and the demo rely on.
REFERENCED = {
    "seattle",
    "boston",
    "birmingham-al",
    "south-fulton",
    "tulsa-county",
    "dinuba",
    "chula-vista",
    "clayton-county-ga",
    "las-cruces",
    "new-york-city",
    "riverside-county",
    "san-diego",
}
SEED_PLACES = {"birmingham-al", "jefferson-county-al", "bloomington-il", "normal-il"}
SEED_PLACES |= {"mclean-county-il"}
# jurisdictions.tsv rows of low confidence: their entries must say what is unverified.
LOW_CONFIDENCE = {
    "jefferson-county-al",
    "bloomington-il",
    "normal-il",
    "mclean-county-il",
    "los-angeles-county",
}


def _entry_url(entry: Entry) -> list[str]:
    """The URLs an entry's spider starts from, in the form `jurisdictions add` reads."""
    config = entry.platform_config
    if isinstance(config, LegistarConfig):
        return [f"{config.base_url}/{config.client}/events"]
    if isinstance(config, DocumentsConfig):
        return list(config.listing_urls)
    if isinstance(config, GranicusConfig):
        return [f"{config.base_url}/ViewPublisher.php?view_id={v}" for v in config.view_ids]
    if isinstance(config, CivicPlusConfig):
        return [f"{config.base_url}/AgendaCenter"]
    return [str(config.model_dump()["base_url"])]


def test_bundled_registry_has_the_places_that_matter() -> None:
    slugs = {e.slug for e in BUNDLED}
    assert len(BUNDLED) >= 70
    assert len(slugs) == len(BUNDLED)
    assert slugs >= REFERENCED | SEED_PLACES


@pytest.mark.parametrize("entry", BUNDLED, ids=lambda e: e.slug)
def test_bundled_entry_is_consistent(entry: Entry) -> None:
    # A valid IANA zone, and the state's own where the state has only one.
    assert ZoneInfo(entry.timezone)
    if entry.state in STATE_TIMEZONES:
        assert entry.timezone == STATE_TIMEZONES[entry.state], entry.state
    assert entry.domains(), "no host to crawl"
    # The endpoint is the platform's: what `jurisdictions add` makes of it is this platform.
    for url in _entry_url(entry):
        detected = detect_platform(url).platform
        if entry.platform == "legistar_web":
            assert detected in {"legistar", "legistar_web"}, url
        else:
            assert detected == entry.platform, url
    config = entry.platform_config
    if isinstance(config, LegistarConfig):
        assert config.base_url == "https://webapi.legistar.com/v1"
        site = urlsplit(config.site_url or "https://x.legistar.com").hostname or ""
        assert site.endswith(".legistar.com")
    if isinstance(config, CivicClerkConfig):
        api = urlsplit(config.base_url).hostname or ""
        assert api.endswith(".api.civicclerk.com")
        assert config.base_url.endswith("/v1")
        assert config.portal_url == f"https://{api.split('.')[0]}.portal.civicclerk.com"
    if isinstance(config, GranicusConfig):
        assert config.view_ids, "a Granicus entry lists at least one view"
    if isinstance(config, NovusAgendaConfig):
        assert config.base_url.endswith("/agendapublic")
    if isinstance(config, CivicPlusConfig | LegistarWebConfig):
        assert "/agendacenter" not in config.base_url.lower()
        assert "calendar.aspx" not in config.base_url.lower()


@pytest.mark.parametrize(
    "entry",
    [e for e in BUNDLED if e.slug in LOW_CONFIDENCE or e.platform == "documents"],
    ids=lambda e: e.slug,
)
def test_uncertain_entries_say_what_is_unverified(entry: Entry) -> None:
    if entry.slug == "birmingham-al":
        return  # its listing is recorded (tracker/data/archives/birmingham-2021-11.warc.gz)
    assert entry.notes is not None
    assert "unverified" in entry.notes.lower()
