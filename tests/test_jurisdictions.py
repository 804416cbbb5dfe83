"""`ice-tracker jurisdictions`: listing with filters, recognizing a platform from a URL, and
`jurisdictions add` writing an entry that the registry parser accepts.

The detection cases use the real URLs the recorded fixtures came from (tests/fixtures/
MANIFEST.tsv names the jurisdiction and source repository of each; the URLs are the ones those
scrapers and this project's spiders ask for), one case per fixture platform at least.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, run_tracker

from tracker.cli import main
from tracker.jurisdictions import DetectionError, detect_platform, entry_toml
from tracker.registry import load_registry, parse_registry

MANIFEST = ROOT / "tests" / "fixtures" / "MANIFEST.tsv"

# (MANIFEST.tsv platform, the URL the fixture was fetched from, platform, registry table)
CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "Legistar Web API JSON",
        "https://webapi.legistar.com/v1/seattle/events?$filter=EventDate+ge+datetime'2019-07-29'",
        "legistar",
        {"client": "seattle"},
    ),
    (
        "Legistar InSite HTML",
        "https://phila.legistar.com/Calendar.aspx",
        "legistar",
        {"client": "phila", "site_url": "https://phila.legistar.com"},
    ),
    (
        "Legistar InSite HTML",
        "https://legistar.council.nyc.gov/Calendar.aspx",
        "legistar_web",
        {"base_url": "https://legistar.council.nyc.gov"},
    ),
    (
        "PrimeGov",
        "https://claytoncountyga.primegov.com/api/v2/PublicPortal/ListArchivedMeetings?year=2026",
        "primegov",
        {"base_url": "https://claytoncountyga.primegov.com"},
    ),
    (
        "CivicClerk",
        "https://southfultonga.api.civicclerk.com/v1/Events",
        "civicclerk",
        {
            "base_url": "https://southfultonga.api.civicclerk.com/v1",
            "portal_url": "https://southfultonga.portal.civicclerk.com",
        },
    ),
    (
        "CivicClerk",
        "https://tulsacook.portal.civicclerk.com/",
        "civicclerk",
        {
            "base_url": "https://tulsacook.api.civicclerk.com/v1",
            "portal_url": "https://tulsacook.portal.civicclerk.com",
        },
    ),
    (
        "CivicPlus AgendaCenter",
        "http://nc-nashcounty.civicplus.com/AgendaCenter/Search/?term=&CIDs=all"
        "&startDate=05%2F03%2F2020&endDate=05%2F06%2F2020&dateRange=&dateSelector=",
        "civicplus",
        {"base_url": "http://nc-nashcounty.civicplus.com"},
    ),
    (
        "CivicPlus AgendaCenter",
        "https://www.cityofkingsburg-ca.gov/AgendaCenter",
        "civicplus",
        {"base_url": "https://www.cityofkingsburg-ca.gov"},
    ),
    (
        "Granicus ViewPublisher",
        "https://tulsa-ok.granicus.com/ViewPublisher.php?view_id=4",
        "granicus",
        {"base_url": "https://tulsa-ok.granicus.com", "view_ids": [4]},
    ),
    (
        "eSCRIBE",
        "https://pub-chulavista.escribemeetings.com/MeetingsCalendarView.aspx/GetCalendarMeetings",
        "escribe",
        {"base_url": "https://pub-chulavista.escribemeetings.com"},
    ),
    (
        "IQM2 (Granicus)",
        "https://riversidecountyca.iqm2.com/Citizens/Calendar.aspx",
        "iqm2",
        {"base_url": "https://riversidecountyca.iqm2.com"},
    ),
    (
        "NovusAgenda",
        "https://dinuba.novusagenda.com/agendapublic/meetingsgeneral.aspx?MeetingType=1&Date=6ms",
        "novusagenda",
        {"base_url": "https://dinuba.novusagenda.com/agendapublic", "meeting_types": [1]},
    ),
    (
        # The Chicago Police District Council page that links its notice-and-agenda PDFs
        # (City-Bureau/city-scrapers chi_police_district_councils.py).
        "PDF agenda",
        "https://www.chicago.gov/city/en/depts/ccpsa/supp_info/district-council-pages/DC001.html",
        "documents",
        {
            "listing_urls": [
                "https://www.chicago.gov/city/en/depts/ccpsa/supp_info/district-council-pages/DC001.html"
            ]
        },
    ),
]


def test_every_fixture_platform_has_a_detection_case() -> None:
    with MANIFEST.open(encoding="utf-8", newline="") as stream:
        platforms = {row["platform"] for row in csv.DictReader(stream, delimiter="\t")}
    covered = {case[0] for case in CASES}
    # PDF agendas and minutes are documents: one documents case stands for both.
    missing = {p for p in platforms - covered if not p.startswith("PDF")}
    assert not missing, f"add a detection case for {missing}"


@pytest.mark.parametrize(
    ("fixture_platform", "url", "platform", "config"),
    CASES,
    ids=[f"{c[0]}:{c[2]}:{i}" for i, c in enumerate(CASES)],
)
def test_detects_the_platform_and_writes_an_entry_that_parses(
    fixture_platform: str, url: str, platform: str, config: dict[str, Any]
) -> None:
    detected = detect_platform(url)
    assert detected.platform == platform
    assert detected.config == config
    text = entry_toml(
        detected,
        slug="new-place",
        name="New Place",
        state="CA",
        kind="city",
        timezone="America/Los_Angeles",
        source_url=url,
    )
    [entry] = parse_registry(text, "new.toml")
    assert entry.platform == platform
    assert entry.platform_config.model_dump(exclude_defaults=True) == {
        k: tuple(v) if isinstance(v, list) else v for k, v in config.items()
    }


def test_a_guessed_legistar_client_is_marked_unverified() -> None:
    detected = detect_platform("https://sccgov.legistar.com/Calendar.aspx")
    assert detected.config["client"] == "sccgov"
    assert "Unverified" in detected.notes[0]
    assert "guessed" in detected.notes[0]
    # A Web API URL names the client: nothing is guessed.
    assert detect_platform("https://webapi.legistar.com/v1/santaclara/events").notes == ()


@pytest.mark.parametrize(
    ("url", "platform", "config"),
    [
        (
            "https://www.normalil.gov/AgendaCenter/Town-Council-4",
            "civicplus",
            {"base_url": "https://www.normalil.gov", "category_ids": [4]},
        ),
        (
            "https://lacity.primegov.com/public/portal",
            "primegov",
            {"base_url": "https://lacity.primegov.com"},
        ),
        (
            "https://atlantacityga.iqm2.com/Citizens/Default.aspx",
            "iqm2",
            {"base_url": "https://atlantacityga.iqm2.com"},
        ),
        (
            "https://houston.novusagenda.com/agendapublic",
            "novusagenda",
            {"base_url": "https://houston.novusagenda.com/agendapublic"},
        ),
        (
            "https://sacramento.granicus.com/ViewPublisherRSS.php?view_id=21&mode=agendas",
            "granicus",
            {"base_url": "https://sacramento.granicus.com", "view_ids": [21]},
        ),
    ],
)
def test_detects_registry_urls(url: str, platform: str, config: dict[str, Any]) -> None:
    detected = detect_platform(url)
    assert (detected.platform, detected.config) == (platform, config)


def test_unknown_and_spiderless_sites_become_document_listings() -> None:
    swagit = detect_platform("https://jccal.new.swagit.com/videos/375279")
    assert swagit.platform == "documents"
    assert "Swagit" in swagit.notes[0]
    assert "Unverified" in swagit.notes[0]
    page = detect_platform("https://www.birminghamalcitycouncil.org/meeting_type/council/")
    assert page.config == {
        "listing_urls": ["https://www.birminghamalcitycouncil.org/meeting_type/council/"]
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://miamifl.granicus.com/", "ViewPublisher.php?view_id=N"),
        ("https://webapi.legistar.com/v1", "names its client"),
        ("ftp://example.org/agendas", "not an http(s) URL"),
    ],
)
def test_urls_that_say_too_little_are_refused(url: str, message: str) -> None:
    with pytest.raises(DetectionError, match=re.escape(message)):
        detect_platform(url)


def test_a_token_in_a_web_api_url_is_not_written() -> None:
    url = "https://webapi.legistar.com/v1/nyc/events?token=c2VjcmV0"
    detected = detect_platform(url)
    text = entry_toml(
        detected,
        slug="nyc-api",
        name="New York City",
        state="NY",
        kind="city",
        timezone="America/New_York",
        source_url=url,
    )
    assert "c2VjcmV0" not in text
    assert "add token" in text


# -- the command -------------------------------------------------------------------------------


def invoke(*args: str | Path) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_add_prints_an_entry_that_parses() -> None:
    result = invoke(
        "jurisdictions",
        "add",
        "https://www.mcleancountyil.gov/AgendaCenter",
        "--name",
        "McLean County",
        "--state",
        "il",
    )
    assert result.exit_code == 0, result.output
    [entry] = parse_registry(result.stdout, "out.toml")
    assert (entry.slug, entry.state, entry.kind, entry.timezone) == (
        "mclean-county-il",
        "IL",
        "county",
        "America/Chicago",  # Illinois has one zone
    )
    assert entry.civicplus is not None
    assert entry.civicplus.base_url == "https://www.mcleancountyil.gov"
    assert "# TODO" in result.stdout


def test_add_appends_to_a_registry_file_that_stays_valid(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    for url, name in [
        ("https://pub-raleighnc.escribemeetings.com", "Raleigh"),
        ("https://forestparkga.portal.civicclerk.com/", "Forest Park"),
    ]:
        result = invoke(
            "jurisdictions", "add", url, "--name", name, "--state", "GA", "--output", mine
        )
        assert result.exit_code == 0, result.output
        assert result.stdout == ""
        assert "added" in result.stderr
    entries = {e.slug: e for e in parse_registry(mine.read_text(encoding="utf-8"), str(mine))}
    assert set(entries) == {"raleigh-ga", "forest-park-ga"}
    assert f"check raleigh-ga --registry {mine}" in mine.read_text(encoding="utf-8")
    assert entries["forest-park-ga"].platform == "civicclerk"
    # The same slug again is refused, and the file is left as it was.
    before = mine.read_text(encoding="utf-8")
    again = invoke(
        "jurisdictions",
        "add",
        "https://pub-raleighnc.escribemeetings.com",
        "--name",
        "Raleigh",
        "--state",
        "GA",
        "--output",
        mine,
    )
    assert again.exit_code == 1
    assert "duplicate slug 'raleigh-ga'" in again.stderr
    assert mine.read_text(encoding="utf-8") == before
    # And the file works as a user's registry.
    registry = load_registry([mine])
    assert registry.get("raleigh-ga").escribe is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "also needs --name, --state, --timezone; the URL cannot tell"),
        (["--name", "Houston", "--state", "TX"], "needs --timezone (the state has more than one"),
        (
            ["--name", "Houston", "--state", "TX", "--timezone", "Texas/Houston"],
            "unknown IANA time zone 'Texas/Houston'",
        ),
        (["--name", "Houston", "--state", "Texas"], "two-letter code"),
    ],
)
def test_add_says_in_one_line_what_it_cannot_know(args: list[str], message: str) -> None:
    result = invoke("jurisdictions", "add", "https://houston.novusagenda.com/agendapublic", *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("ice-tracker: error: ")
    assert message in line


def test_add_with_everything_given_writes_a_multi_zone_state() -> None:
    result = invoke(
        "jurisdictions",
        "add",
        "https://houston.novusagenda.com/agendapublic",
        "--name",
        "Houston",
        "--state",
        "TX",
        "--timezone",
        "America/Chicago",
        "--slug",
        "houston-tx",
    )
    assert result.exit_code == 0, result.output
    [entry] = parse_registry(result.stdout, "out.toml")
    assert (entry.slug, entry.timezone, entry.platform) == (
        "houston-tx",
        "America/Chicago",
        "novusagenda",
    )


def test_listing_keeps_its_format_and_filters() -> None:
    everything = invoke("jurisdictions").stdout.splitlines()
    assert len(everything) == len(load_registry())
    assert (
        "seattle                  Seattle, WA (city) - legistar, America/Los_Angeles" in everything
    )
    illinois = invoke("jurisdictions", "--state", "il").stdout.splitlines()
    assert illinois
    assert all(", IL (" in line for line in illinois)
    assert any(line.startswith("mclean-county-il ") for line in illinois)
    primegov = invoke("jurisdictions", "--platform", "primegov").stdout.splitlines()
    assert {line.split()[0] for line in primegov} == {
        e.slug for e in load_registry() if e.platform == "primegov"
    }
    both = invoke("jurisdictions", "--platform", "civicplus", "--state", "IL").stdout.split()
    assert "bloomington-il" in both
    assert "las-cruces" not in both


def test_listing_refuses_an_unknown_platform_in_one_line() -> None:
    result = run_tracker("jurisdictions", "--platform", "sharepoint", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "ice-tracker: error: unknown platform 'sharepoint': one of legistar, legistar_web, "
        "primegov, civicclerk, civicplus, granicus, escribe, iqm2, novusagenda, documents"
    ]
