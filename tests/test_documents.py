"""Documents end to end: fetched by a replayed crawl, extracted page by page, versioned,
searchable, and classified; broken ones recorded without stopping the crawl."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, SEATTLE_WARC, SEATTLE_WINDOW, query, row_counts, run_tracker
from pdfs import make_pdf
from warcs import Page, rewrite_warc

FILES = "http://legistar2.granicus.com/seattle"
AGENDA_4050 = (
    f"{FILES}/meetings/2019/7/4050_A_Human_Services%2C_Equitable_Development%2C_"
    "and_Renter_Rights_Committee_19-07-29_Committee_Agenda.pdf"
)
MINUTES_4050 = (
    f"{FILES}/meetings/2019/7/4050_M_Human_Services%2C_Equitable_Development%2C_"
    "and_Renter_Rights_Committee_19-07-29_Committee_Minutes.pdf"
)
AGENDA_4048 = f"{FILES}/meetings/2019/7/4048_A_Council_Briefing_19-07-29_Council_Briefing.pdf"
AGENDA_4049 = (
    f"{FILES}/meetings/2019/7/4049_A_City_Council_19-07-29_Full_Council_Meeting_Agenda.pdf"
)
MEMO_65911 = f"{FILES}/attachments/94df927a-6efb-49d1-a262-fe6ea59eacdc.pdf"
PDFS = ROOT / "tests" / "fixtures" / "pdf"
LADWP = (PDFS / "los-angeles-dwp-board" / "ladwp_2.pdf").read_bytes()
CHICAGO = (
    PDFS / "chicago-police-district-council-001" / "Notice-and-Agenda-001-2023-06-06.pdf"
).read_bytes()
LA_METRO = (PDFS / "la-metro" / "wrong_minutes_file.pdf").read_bytes()
MEMO = make_pdf(
    [
        "Central Staff memorandum",
        "Section 3 would end the 287(g) agreement between the Sheriff and U.S. "
        "Immigration and Customs Enforcement.",
    ]
)


def with_documents(tmp_path: Path, name: str, documents: dict[str, tuple[bytes, str]]) -> Path:
    extra = [
        Page(url, 200, [("Content-Type", kind)], body) for url, (body, kind) in documents.items()
    ]
    return rewrite_warc(SEATTLE_WARC, tmp_path / name, lambda p: p, extra)


def crawl(database_url: str, archive: Path, **env: str) -> str:
    result = run_tracker(
        "crawl",
        "seattle",
        "--replay",
        archive,
        *SEATTLE_WINDOW,
        database_url=database_url,
        check=False,
        env={"TRACKER_DATA_DIR": str(archive.parent / "data"), **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def document_id(database_url: str, url: str) -> int:
    [row] = query(database_url, "SELECT id FROM document WHERE url = :url", url=url)
    return int(row.id)


def test_documents_are_extracted_searchable_and_classified(
    database_url: str, tmp_path: Path
) -> None:
    archive = with_documents(
        tmp_path,
        "docs.warc.gz",
        {
            AGENDA_4050: (LADWP, "application/pdf"),
            MINUTES_4050: (CHICAGO, "application/pdf"),
            MEMO_65911: (MEMO, "application/pdf"),
        },
    )
    assert "seattle: ok" in crawl(database_url, archive)
    [agenda] = query(
        database_url,
        "SELECT versions, pages, content_type, error FROM document WHERE url = :url",
        url=AGENDA_4050,
    )
    assert (agenda.versions, agenda.pages, agenda.content_type, agenda.error) == (
        1,
        7,
        "application/pdf",
        None,
    )
    # A phrase on page 5 of the agenda is found on page 5.
    out = run_tracker("search", "Elysian Reservoir", "--json", database_url=database_url)
    hits = json.loads(out.stdout)
    assert [(h["url"], h["page"]) for h in hits] == [(AGENDA_4050, 5)]
    assert "Elysian Reservoir" in hits[0]["snippet"]
    text = run_tracker(
        "search", "Serena Schroeder", "--jurisdiction", "seattle", database_url=database_url
    ).stdout
    assert "page 6" in text
    assert "[Serena]" in text or "[Serena Schroeder]" in text
    assert (
        json.loads(
            run_tracker(
                "search", "Elysian", "--jurisdiction", "boston", "--json", database_url=database_url
            ).stdout
        )
        == []
    )
    # The memo attached to item 65911 names a 287(g) agreement on its page 2: the item is
    # flagged, and the match says which document, page and passage.
    [item] = query(
        database_url,
        "SELECT relevant, category, direction, relevance_source, "
        "matches FROM agenda_item WHERE platform_id = '65911'",
    )
    assert (item.relevant, item.category, item.relevance_source) == (True, "287g", "document")
    assert item.direction == "limits"
    matches = item.matches if isinstance(item.matches, list) else json.loads(item.matches)
    assert matches[0]["page"] == 2
    assert matches[0]["document_id"] == document_id(database_url, MEMO_65911)
    assert "287(g) agreement" in matches[0]["passage"]


def test_broken_documents_are_recorded_and_the_crawl_goes_on(
    sqlite_url: str, tmp_path: Path
) -> None:
    archive = with_documents(
        tmp_path,
        "broken.warc.gz",
        {
            AGENDA_4048: (b"", "application/pdf"),
            AGENDA_4049: (
                b"<html><body><h1>Agenda</h1><p>Call to order</p></body></html>",
                "application/pdf",
            ),
            MINUTES_4050: (LADWP[: len(LADWP) * 2 // 5], "application/pdf"),
            MEMO_65911: (LA_METRO, "application/pdf"),
        },
    )
    output = crawl(sqlite_url, archive, TRACKER_DOWNLOAD_MAXSIZE="100000")
    assert "seattle: partial" in output  # the oversized memo could not be fetched
    counts = row_counts(sqlite_url)
    assert (counts["meeting"], counts["agenda_item"], counts["vote"]) == (3, 37, 32)
    versions = {
        r.url: r
        for r in query(
            sqlite_url,
            """
        SELECT d.url, v.content_type, v.error, v.warning, v.pages FROM document_version v
        JOIN document d ON d.id = v.document_id""",
        )
    }
    assert "empty" in versions[AGENDA_4048].error
    assert versions[AGENDA_4049].content_type == "text/html"  # sniffed, not believed
    assert (
        "Call to order"
        in query(
            sqlite_url,
            """
        SELECT p.text FROM document_page p JOIN document_version v ON v.id = p.version_id
        JOIN document d ON d.id = v.document_id WHERE d.url = :url""",
            url=AGENDA_4049,
        )[0].text
    )
    assert versions[AGENDA_4049].warning
    assert versions[MINUTES_4050].error.startswith("truncated PDF")
    [memo] = query(
        sqlite_url, "SELECT versions, error FROM document WHERE url = :url", url=MEMO_65911
    )
    assert memo.versions == 0
    assert memo.error == "larger than the download limit (100,000 bytes)"
    problems = query(sqlite_url, "SELECT problems FROM crawl_run")[0].problems
    problems = problems if isinstance(problems, dict) else json.loads(problems)
    assert problems == {"document/too_large": 1}


def test_revised_document_is_one_change_and_both_versions_stay(
    database_url: str, tmp_path: Path
) -> None:
    first = make_pdf(["Committee agenda", "Item 1: a briefing on social housing"])
    second = make_pdf(
        [
            "Committee agenda (revised)",
            "Item 1: a briefing on social housing",
            "Item 2: added after publication",
        ]
    )
    crawl(
        database_url,
        with_documents(tmp_path, "a.warc.gz", {AGENDA_4050: (first, "application/pdf")}),
    )
    before = [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")]
    revised = with_documents(tmp_path, "b.warc.gz", {AGENDA_4050: (second, "application/pdf")})
    crawl(database_url, revised, TRACKER_DOCUMENT_REFRESH_HOURS="0")
    kinds = [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")]
    assert kinds[len(before) :] == ["document_revised"]
    crawl(database_url, revised, TRACKER_DOCUMENT_REFRESH_HOURS="0")  # same content again
    assert [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")] == kinds

    doc = str(document_id(database_url, AGENDA_4050))
    env = {"TRACKER_DATA_DIR": str(tmp_path / "data")}
    shown = run_tracker(
        "document", "show", doc, "--text", database_url=database_url, env=env
    ).stdout
    assert "version 1:" in shown
    assert "*version 2:" in shown
    assert "Item 2: added after publication" in shown
    for number, body in (("1", first), ("2", second)):
        out = tmp_path / f"v{number}.pdf"
        run_tracker(
            "document",
            "show",
            doc,
            "--version",
            number,
            "--output",
            out,
            database_url=database_url,
            env=env,
        )
        assert out.read_bytes() == body
    missing = run_tracker(
        "document", "show", doc, "--version", "3", database_url=database_url, env=env, check=False
    )
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"ice-tracker: error: document {doc} has versions 1 to 2, not 3"
    )


def test_recently_fetched_documents_are_not_asked_for_again(
    sqlite_url: str, tmp_path: Path
) -> None:
    archive = with_documents(tmp_path, "docs.warc.gz", {AGENDA_4050: (LADWP, "application/pdf")})
    crawl(sqlite_url, archive)
    crawl(sqlite_url, archive)
    requests = [r.requests for r in query(sqlite_url, "SELECT requests FROM crawl_run ORDER BY id")]
    assert requests[1] < requests[0]
    assert row_counts(sqlite_url)["document_version"] == 1


def test_each_version_points_at_its_warc_record(sqlite_url: str, tmp_path: Path) -> None:
    from tracker.archive import read_responses

    archive = with_documents(tmp_path, "docs.warc.gz", {AGENDA_4050: (LADWP, "application/pdf")})
    recorded = tmp_path / "recorded.warc.gz"
    run_tracker(
        "crawl",
        "seattle",
        "--replay",
        archive,
        *SEATTLE_WINDOW,
        "--archive",
        recorded,
        database_url=sqlite_url,
    )
    [version] = query(sqlite_url, "SELECT sha256, bytes, warc_record FROM document_version")
    file_name, record_id = version.warc_record.split("#", 1)
    assert file_name == recorded.name
    [record] = [r for r in read_responses(recorded) if r.record_id == record_id]
    assert record.url == AGENDA_4050
    assert record.body == LADWP
    assert version.bytes == len(LADWP)
