"""Core `Table` handles of every model, for the bulk writers and queries that work below the ORM.

One place to import them from: `from storage.tables import T_POST, T_OFFER`.
"""
from __future__ import annotations

from . import models as m
from .tables_accounts import AuditEntry, SignalReview, WebSession, WebUser
from .tables_reports import Delivery, StoredSignal
from .tables_telegram import ChannelLink, DiscoveredChannel, TelegramChannel, TelegramChannelStatus, TelegramEntity
from .tables_web import DiscoveredSite, Listing, ListingObservation, PageSnapshot

T_SOURCE = m.Source.__table__
T_POST = m.Post.__table__
T_VERSION = m.PostVersion.__table__
T_SUBSTANCE = m.Substance.__table__
T_ALIAS = m.SubstanceAlias.__table__
T_REGION = m.Region.__table__
T_MENTION = m.Mention.__table__
T_OFFER = m.Offer.__table__
T_CANDIDATE = m.Candidate.__table__
T_RUN = m.CrawlRun.__table__
T_CHECKPOINT = m.Checkpoint.__table__
T_FX = m.FxRate.__table__
T_LISTING = Listing.__table__
T_OBS = ListingObservation.__table__
T_SNAP = PageSnapshot.__table__
T_SIGNAL = StoredSignal.__table__
T_DELIVERY = Delivery.__table__
T_PROMOTED = TelegramChannel.__table__
T_ENTITY = TelegramEntity.__table__
T_DISCOVERED = DiscoveredChannel.__table__
T_LINK = ChannelLink.__table__
T_USER = WebUser.__table__
T_SESSION = WebSession.__table__
T_AUDIT = AuditEntry.__table__
T_REVIEW = SignalReview.__table__
T_SITE_FOUND = DiscoveredSite.__table__
from .tables_ads import Ad  # noqa: E402
T_AD = Ad.__table__
T_CHANNEL_STATUS = TelegramChannelStatus.__table__
from .tables_tgmetrics import TelegramChannelSample, TelegramPostSample  # noqa: E402
T_CHANNEL_SAMPLE = TelegramChannelSample.__table__
T_POST_SAMPLE = TelegramPostSample.__table__
from .tables_images import ImageHash  # noqa: E402
T_IMAGE = ImageHash.__table__
from .tables_aggregate import (T_CLASS_MENTION_WEEK, T_CLASS_OFFER_WEEK, T_CLASS_SOURCE_WEEK, T_MENTION_WEEK,  # noqa: E402,F401
                               T_OFFER_WEEK, T_SOURCE_WEEK, T_STALE)
