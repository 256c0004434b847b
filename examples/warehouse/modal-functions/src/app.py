"""Deploy entry point: ``modal deploy app.py`` from ``modal-functions/src``.

Modal registers every function of every module this import loads: a module imported here, or
imported by one of those (ingest/chat_summaries.py, through ingest/chat_sessions.py), is
deployed whole, whichever of its names is imported. ingest/legacy_crunchbase.py is imported by
nothing, so it is not deployed.
"""

import ingest.funding_rounds
import ingest.web_traffic as web_traffic
from config import app  # noqa: F401  (the App that `modal deploy` picks up)
from ingest import case_studies  # ingest_case_studies and reconcile_case_studies
from ingest import champions, tech_stack
from ingest.chat_sessions import ingest_chat_turn
from ingest import hiring_signals as hiring
from ingest.company_merge import merge_companies
from ingest.company_queue import enqueue_companies
from ingest.company_signals import ingest_company_signals
from ingest.company_tags import tag_companies
from ingest.crm_sync import sync_crm_contacts
from ingest.domain_verification import verify_domains
from ingest.enrichment import enrich_company, enrich_person
from ingest.enrichment_worker import CompanyEnricher
from ingest.event_loader import load_product_events
from ingest.exports import export_companies
from ingest.generic_loader import load_rows
from ingest.job_listings import backfill_job_listings, ingest_job_listings
from ingest.lead_events import ingest_lead_events  # score_lead_batches: deployed with it
from ingest.legacy_forms import legacy_form_intake
from ingest.news_mentions import ingest_news_mentions
from ingest.people import (
    ingest_person_profiles,
    refresh_person_profiles as refresh_people,
)
from ingest.replay import replay_failed_payloads
from ingest.reviews import ingest_reviews, score_review_batch
from ingest.staging_cleanup import cleanup_staging
from ingest.status_server import status_server
from ingest.webhooks import crm_webhooks

__all__ = [
    "CompanyEnricher",
    "backfill_job_listings",
    "case_studies",
    "champions",
    "cleanup_staging",
    "crm_webhooks",
    "enqueue_companies",
    "enrich_company",
    "enrich_person",
    "export_companies",
    "hiring",
    "ingest_chat_turn",
    "ingest",
    "ingest_company_signals",
    "ingest_job_listings",
    "ingest_lead_events",
    "ingest_news_mentions",
    "ingest_person_profiles",
    "ingest_reviews",
    "legacy_form_intake",
    "load_product_events",
    "load_rows",
    "merge_companies",
    "refresh_people",
    "replay_failed_payloads",
    "score_review_batch",
    "status_server",
    "sync_crm_contacts",
    "tag_companies",
    "tech_stack",
    "verify_domains",
    "web_traffic",
]
