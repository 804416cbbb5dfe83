"""One Scrapy spider per meeting platform; SPIDERS maps a registry ``platform`` to its spider."""

from __future__ import annotations

from spiders.civicclerk import CivicClerkSpider
from spiders.civicplus import CivicPlusSpider
from spiders.documents import DocumentsSpider
from spiders.escribe import EscribeSpider
from spiders.granicus import GranicusSpider
from spiders.iqm2 import Iqm2Spider
from spiders.legistar_api import LegistarApiSpider
from spiders.legistar_web import LegistarWebSpider
from spiders.novusagenda import NovusAgendaSpider
from spiders.primegov import PrimeGovSpider
from tracker.spider import TrackerSpider

SPIDERS: dict[str, type[TrackerSpider]] = {
    LegistarApiSpider.platform: LegistarApiSpider,
    EscribeSpider.platform: EscribeSpider,
    Iqm2Spider.platform: Iqm2Spider,
    NovusAgendaSpider.platform: NovusAgendaSpider,
    LegistarWebSpider.platform: LegistarWebSpider,
    PrimeGovSpider.platform: PrimeGovSpider,
    CivicClerkSpider.platform: CivicClerkSpider,
    CivicPlusSpider.platform: CivicPlusSpider,
    GranicusSpider.platform: GranicusSpider,
    DocumentsSpider.platform: DocumentsSpider,
}
