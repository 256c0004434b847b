#!/usr/bin/env python3
"""Writes a synthetic Modal ingest project shaped like the real corpus, for benchmarks.

    python bench/gen_corpus.py --scale 1 --out bench/corpus/x1

Scale 1 is about 200 files and 28.5k lines: ~110 ingest modules holding ~175 Modal functions
(web endpoints, scheduled functions, queue workers, a few ``@app.cls`` classes), ~50 extraction
modules and ~34 common modules, with ~400 write sites, most of them reached through helpers in
other modules. File sizes spread like the real warehouse's (median ~130 lines, 90th percentile
~240, largest 767; see SIZE_QUANTILES). Scale N repeats that "unit" N times under distinct module,
function and table names, so scale 10 is ~2k files and scale 50 ~9.7k files / ~1.4M lines.

The output is deterministic: the same seed, scale and generator version give byte-identical files,
and unit k is the same at every scale (scale 1 is a subset of scale 10). The project also gets a
``workflow_registry.yaml`` that matches what the generated code writes, and a
``.bench_manifest.json`` with the counts (read by ``bench/run.py``).

Only the standard library is used; the generated code is never imported or run.
"""

# The generated code is written as string templates, one generated line per string: their
# length is the generated line's, not this file's style.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import random
import re
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR_VERSION = 2
MANIFEST = ".bench_manifest.json"
SRC = "modal-functions/src"

# -- vocabulary ------------------------------------------------------------------------------------

PROVIDERS = [
    "apollo",
    "clearbit",
    "crunchbase",
    "linkedin",
    "g2",
    "github",
    "builtwith",
    "similarweb",
    "zoominfo",
    "pitchbook",
    "glassdoor",
    "indeed",
    "producthunt",
    "twitter",
    "newsapi",
    "edgar",
    "uspto",
    "hunter",
    "pdl",
    "diffbot",
    "serp",
    "firecrawl",
    "wappalyzer",
    "owler",
    "dealroom",
    "wellfound",
    "greenhouse",
    "lever",
    "capterra",
    "trustpilot",
    "youtube",
    "reddit",
    "hackernews",
    "gdelt",
    "opencorporates",
    "companies_house",
    "sam_gov",
    "theirstack",
    "coresignal",
    "harmonic",
]
COMPANY_TOPICS = [
    "signals",
    "funding_rounds",
    "headcount",
    "tech_stack",
    "job_postings",
    "reviews",
    "news_mentions",
    "patents",
    "web_traffic",
    "social_profiles",
    "case_studies",
    "customers",
    "competitors",
    "keywords",
    "press_releases",
    "product_launches",
    "pricing_pages",
    "hiring_trends",
    "investors",
    "acquisitions",
    "filings",
    "office_locations",
    "leadership",
    "partnerships",
    "awards",
    "certifications",
    "government_contracts",
    "open_source",
    "integrations",
    "app_reviews",
    "ad_spend",
]
PERSON_TOPICS = [
    "profiles",
    "work_history",
    "emails",
    "phone_numbers",
    "social_accounts",
    "publications",
    "talks",
    "education",
    "skills",
    "job_changes",
    "champions",
]
CLIENT_TOPICS = [
    "accounts",
    "buying_signals",
    "intent_topics",
    "icp_scores",
    "contacts",
    "opportunities",
    "lookalikes",
]
FIELDS = [
    "name",
    "domain",
    "website",
    "industry",
    "employee_count",
    "founded_year",
    "headquarters",
    "country",
    "city",
    "region",
    "linkedin_url",
    "twitter_handle",
    "description",
    "revenue_range",
    "funding_total",
    "last_funding_date",
    "investors",
    "tags",
    "keywords",
    "categories",
    "technologies",
    "title",
    "seniority",
    "department",
    "email",
    "phone",
    "first_name",
    "last_name",
    "full_name",
    "location",
    "posted_at",
    "salary_min",
    "salary_max",
    "currency",
    "remote",
    "url",
    "source_url",
    "published_at",
    "author",
    "rating",
    "review_count",
    "sentiment",
    "score",
    "confidence",
    "external_id",
    "status",
    "updated_at",
    "language",
    "summary",
    "headline",
    "amount",
    "round_type",
    "announced_at",
    "lead_investor",
    "team_size",
    "stage",
    "visits",
    "bounce_rate",
    "rank",
    "platform",
    "handle",
    "followers",
    "verified",
    "category",
    "vendor",
    "version",
    "first_seen",
    "last_seen",
    "employer",
    "start_date",
    "end_date",
    "degree",
    "school",
    "skill",
    "level",
    "topic",
    "intent_score",
    "account_id",
]
NOUNS = [
    "payload",
    "record",
    "batch",
    "provider",
    "company",
    "person",
    "row",
    "request",
    "response",
    "snapshot",
    "signal",
    "source",
    "page",
    "cursor",
    "webhook",
    "workflow",
    "table",
    "column",
    "field",
    "schema",
    "event",
    "domain",
    "profile",
    "listing",
    "review",
    "entry",
    "document",
]
SENTENCES = [
    "The provider sends one payload per company; large accounts arrive in several pages.",
    "Rows are stored verbatim first so that extraction can be replayed after a bug fix.",
    "Every timestamp is normalised to UTC before it is compared or stored.",
    "Empty strings from the provider mean 'unknown', never 'blank', and are dropped.",
    "Duplicates are common when the webhook retries; the upsert key absorbs them.",
    "Field names changed in the provider's v2 API; both spellings are accepted here.",
    "The extraction step is idempotent: running it twice on one raw row writes the same records.",
    "Rate limits are per API key, so backfills run as a queue worker rather than inline.",
    "Records without a resolvable domain are kept in the extracted layer but never reach core.",
    "The workflow slug arrives in the request; the default below is the historical one.",
    "Counts are logged so that the ingest dashboard can show per-provider volumes.",
    "Do not add columns here without adding them to the extracted table's migration first.",
    "A failed extraction leaves the raw row in place with its error so it can be retried.",
    "Pagination uses an opaque cursor; the provider resets it when the index is rebuilt.",
    "Values above the provider's documented maximum are treated as data errors and logged.",
    "The response includes the raw id so that callers can correlate their own logs.",
    "Only the fields listed in the field map are copied; everything else stays in raw.",
    "Booleans come back as 'yes'/'no' strings from older accounts and are coerced here.",
    "Currency amounts are stored in minor units together with the ISO currency code.",
    "The scheduled refresh only touches rows older than the configured staleness window.",
    "This module is deployed as part of the warehouse-ingest app; see app.py.",
    "Secrets come from the Modal secret store; nothing here reads a local .env file.",
    "The language model is asked for JSON only and its output is validated before use.",
    "Retries back off exponentially and give up after five attempts.",
    "Requests larger than five megabytes are rejected before anything is written.",
    "The on-conflict key matches the unique index created by the table's migration.",
    "Nested lists are flattened into child rows keyed by the parent's source id.",
    "Country names are mapped to ISO 3166 alpha-2 codes; unknown names are kept as text.",
    "Matching against core happens on the normalised registrable domain only.",
    "When the provider returns a partial record, missing fields keep their previous values.",
]
PROMPT_RULES = [
    "Return only JSON that matches the schema below; no prose, no markdown fences.",
    "If a field is not stated in the text, use null rather than guessing.",
    "Dates must be ISO-8601 (YYYY-MM-DD); partial dates keep only the known parts.",
    "Monetary amounts are numbers without currency symbols; put the currency in its own field.",
    "Company names keep their legal suffix (Inc., GmbH, Ltd.) exactly as written.",
    "Do not infer a person's seniority from their age or photo; use the stated title only.",
    "Deduplicate entries that refer to the same entity under different spellings.",
    "Keep at most 25 items; prefer the most recent ones when there are more.",
    "URLs must be absolute; drop tracking parameters such as utm_source.",
    "A confidence between 0 and 1 states how directly the text supports each item.",
    "Ignore navigation menus, cookie banners and footers in scraped pages.",
    "When two sources disagree, prefer the one with the later publication date.",
    "Classify sentiment as positive, neutral or negative; never mixed.",
    "Job titles are normalised to title case with abbreviations expanded (Sr. -> Senior).",
    "Never include email addresses that were not literally present in the text.",
]
INT_FIELDS = {
    "employee_count",
    "founded_year",
    "review_count",
    "salary_min",
    "salary_max",
    "team_size",
    "visits",
    "rank",
    "followers",
    "amount",
}
FLOAT_FIELDS = {"rating", "score", "confidence", "sentiment", "bounce_rate", "intent_score"}
LIST_FIELDS = {"investors", "tags", "keywords", "categories", "technologies"}
BOOL_FIELDS = {"remote", "verified"}
SAMPLE_WORDS = [
    "Acme Analytics",
    "Northwind Labs",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Robotics",
    "Wayne Logistics",
    "Hooli",
    "Pied Piper",
    "Vandelay Imports",
    "Soylent Foods",
    "Tyrell Systems",
]


def title_of(name: str) -> str:
    """Returns ``snake_case`` or ``CamelCase`` as lower-case words."""
    if "_" not in name and name[:1].isupper():
        name = "".join(f"_{c}" if c.isupper() else c for c in name).lstrip("_")
    return name.replace("_", " ").lower()


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part)


def q(text: str) -> str:
    """Returns ``text`` as a double-quoted Python string literal."""
    return json.dumps(text)


# -- bulk text -------------------------------------------------------------------------------------


def wrap(words: list[str], width: int, indent: str) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in words:
        if line and len(indent) + len(line) + 1 + len(word) > width:
            lines.append(indent + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(indent + line)
    return lines


def prose(rng: random.Random, n_sentences: int, indent: str = "", width: int = 96) -> list[str]:
    words: list[str] = []
    for sentence in rng.sample(SENTENCES, min(n_sentences, len(SENTENCES))):
        words.extend(sentence.split())
    return wrap(words, width, indent)


def docstring(rng: random.Random, first: str, indent: str, n_sentences: int) -> list[str]:
    if n_sentences == 0:
        return [f'{indent}"""{first}"""']
    return [f'{indent}"""{first}', ""] + prose(rng, n_sentences, indent) + [f'{indent}"""']


def field_type(name: str) -> tuple[str, str]:
    """Returns (annotation, default expression) for a model field."""
    if name in INT_FIELDS:
        return "int | None", "None"
    if name in FLOAT_FIELDS:
        return "float | None", "Field(default=None, ge=0)"
    if name in LIST_FIELDS:
        return "list[str]", "Field(default_factory=list)"
    if name in BOOL_FIELDS:
        return "bool", "False"
    return "str | None", "None"


def model_class(
    rng: random.Random,
    name: str,
    n_fields: int,
    with_slug: str | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    lines = [f"class {name}(BaseModel):"]
    lines += docstring(
        rng, f"One {title_of(name)} as the pipeline sees it.", "    ", rng.choice((0, 0, 1, 2))
    )
    lines.append("")
    if with_slug is not None:
        lines.append(f"    workflow_slug: str = {q(with_slug)}")
    for line in extra or []:
        lines.append(f"    {line}")
    for fname in rng.sample(FIELDS, n_fields):
        ann, default = field_type(fname)
        if rng.random() < 0.25 and "Field(" not in default:
            desc = rng.choice(NOUNS)
            default = f"Field(default={default}, description={q(f'{fname} from the {desc}')})"
        lines.append(f"    {fname}: {ann} = {default}")
    if rng.random() < 0.3:
        lines += [
            "",
            '    @field_validator("*", mode="before")',
            "    @classmethod",
            "    def _blank_to_none(cls, value: Any) -> Any:",
            '        return None if value == "" else value',
        ]
    return lines


def dict_block(rng: random.Random, name: str, n: int) -> list[str]:
    lines = [f"{name}: dict[str, str] = {{"]
    for fname in rng.sample(FIELDS, min(n, len(FIELDS))):
        path = ".".join(
            rng.sample(
                [
                    "data",
                    "attributes",
                    "result",
                    "item",
                    "meta",
                    "profile",
                    "company",
                    "person",
                    "details",
                ],
                rng.randint(1, 3),
            )
        )
        lines.append(f"    {q(path + '.' + fname)}: {q(fname)},")
    lines.append("}")
    return lines


def sample_payload(rng: random.Random, name: str, n_items: int) -> list[str]:
    lines = [
        f"{name}: dict[str, Any] = {{",
        f'    "id": {q(f"evt_{rng.getrandbits(32):08x}")},',
        '    "object": "event",',
        f'    "created": {rng.randint(1_600_000_000, 1_750_000_000)},',
        '    "data": {',
        '        "items": [',
    ]
    for _ in range(n_items):
        lines.append("            {")
        for fname in rng.sample(FIELDS, rng.randint(4, 8)):
            if fname in INT_FIELDS:
                value = str(rng.randint(1, 50_000))
            elif fname in FLOAT_FIELDS:
                value = str(round(rng.random(), 3))
            elif fname in LIST_FIELDS:
                value = "[" + ", ".join(q(w) for w in rng.sample(NOUNS, 3)) + "]"
            elif fname in BOOL_FIELDS:
                value = rng.choice(("True", "False"))
            else:
                value = q(rng.choice(SAMPLE_WORDS))
            lines.append(f"                {q(fname)}: {value},")
        lines.append("            },")
    lines += ["        ],", '        "next_cursor": None,', "    },", "}"]
    return lines


def prompt_block(rng: random.Random, name: str, topic: str, n_rules: int) -> list[str]:
    lines = [
        f'{name} = """You are a careful analyst extracting {title_of(topic)} from provider data.',
        "",
    ]
    lines += prose(rng, rng.randint(2, 4))
    lines += ["", "Rules:"]
    for rule in rng.sample(PROMPT_RULES, min(n_rules, len(PROMPT_RULES))):
        lines.append(f"- {rule}")
    lines += ["", "Schema:", "["]
    for fname in rng.sample(FIELDS, rng.randint(5, 10)):
        ann, _ = field_type(fname)
        lines.append(f'  {{"{fname}": {ann.replace(" | None", " or null")}}},')
    lines += ["]", "", "Text:", "{payload}", '"""']
    return lines


UTILS = {
    "clean": '''def __FN__(value: Any) -> str | None:
    """Returns ``value`` as a trimmed string with collapsed whitespace, or None when empty."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    text = re.sub(r"\\s+", " ", text)
    if len(text) > 2048:
        logger.debug("truncating __FIELD__ from %d characters", len(text))
        text = text[:2048]
    return text''',
    "timestamp": '''def __FN__(raw: Any) -> str | None:
    """Returns an ISO-8601 UTC timestamp for ``raw`` (epoch seconds, ISO text or None)."""
    if raw in (None, "", 0):
        return None
    if isinstance(raw, (int, float)):
        return datetime.fromtimestamp(float(raw), tz=timezone.utc).isoformat()
    text = str(raw).strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc).isoformat()
    logger.warning("unparseable __FIELD__ timestamp: %r", text)
    return None''',
    "flatten": '''def __FN__(payload: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Returns ``payload`` flattened to dotted keys (lists are kept as values)."""
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(__FN__(value, path))
        else:
            flat[path] = value
    return flat''',
    "dedupe": '''def __FN__(records: list[dict[str, Any]], key: str = "__FIELD__") -> list[dict[str, Any]]:
    """Returns ``records`` without duplicates of ``key``, keeping the most recent one."""
    seen: dict[Any, dict[str, Any]] = {}
    for record in records:
        marker = record.get(key)
        if marker is None:
            continue
        previous = seen.get(marker)
        newer = (record.get("updated_at") or "") >= (previous or {}).get("updated_at", "")
        if previous is None or newer:
            seen[marker] = record
    return list(seen.values())''',
    "number": '''def __FN__(value: Any, default: float | None = None) -> float | None:
    """Returns ``value`` as a float, accepting '1.2k', '3M' and '45%' style strings."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().lower().replace(",", "")
    multiplier = 1.0
    if text.endswith("%"):
        text, multiplier = text[:-1], 0.01
    elif text.endswith("k"):
        text, multiplier = text[:-1], 1_000.0
    elif text.endswith("m"):
        text, multiplier = text[:-1], 1_000_000.0
    elif text.endswith("b"):
        text, multiplier = text[:-1], 1_000_000_000.0
    try:
        return float(text) * multiplier
    except ValueError:
        logger.debug("not a number for __FIELD__: %r", value)
        return default''',
    "fetch": '''def __FN__(base_url: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Returns the decoded JSON body of GET ``path``, retrying 429 and 5xx responses."""
    url = f"{base_url.rstrip('/')}/{path.lstrip('/')}"
    token = os.environ.get("__ENV___API_KEY", "")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    delay = 1.0
    for attempt in range(5):
        response = httpx.get(url, params=params or {}, headers=headers, timeout=30.0)
        if response.status_code == 429 or response.status_code >= 500:
            logger.warning("%s returned %s (attempt %d)", url, response.status_code, attempt + 1)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        response.raise_for_status()
        return response.json()
    raise RuntimeError(f"giving up on {url} after 5 attempts")''',
    "mapfields": '''def __FN__(item: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Returns the columns of ``mapping`` read from dotted paths of ``item``."""
    row: dict[str, Any] = {}
    for path, column in mapping.items():
        value: Any = item
        for part in path.split("."):
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = None
                break
        if value not in (None, "", [], {}):
            row[column] = value
    return row''',
    "hostname": '''def __FN__(url: str | None) -> str | None:
    """Returns the registrable host of ``url`` without scheme, ``www.`` or path."""
    if not url:
        return None
    text = url.strip().lower()
    text = re.sub(r"^[a-z]+://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if text.startswith("www."):
        text = text[4:]
    if "." not in text or " " in text:
        return None
    return text.rstrip(".")''',
    "stats": '''def __FN__(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Returns the counts that the ingest log records for a batch of ``records``."""
    stats: dict[str, Any] = {"total": len(records), "with___FIELD__": 0, "empty": 0}
    for record in records:
        if record.get("__FIELD__"):
            stats["with___FIELD__"] += 1
        if not any(value for value in record.values()):
            stats["empty"] += 1
    total = stats["total"]
    stats["ratio"] = round(stats["with___FIELD__"] / total, 4) if total else 0.0
    return stats''',
    "coerce_bool": '''def __FN__(value: Any) -> bool | None:
    """Returns ``value`` as a bool ('yes', 'true', '1', 'y' are true), or None when unknown."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "1", "y", "t"):
        return True
    if text in ("no", "false", "0", "n", "f"):
        return False
    logger.debug("unknown boolean for __FIELD__: %r", value)
    return None''',
}
UTIL_NAMES = sorted(UTILS)


def util_function(rng: random.Random, kind: str, fn: str, env: str = "PROVIDER") -> list[str]:
    field = rng.choice(FIELDS)
    text = UTILS[kind].replace("__FN__", fn).replace("__FIELD__", field).replace("__ENV__", env)
    return text.split("\n")


def llm_function(fn: str, prompt_name: str) -> list[str]:
    return [
        f'def {fn}(text: str, *, model: str = "gpt-4o-mini") -> list[dict[str, Any]]:',
        '    """Returns the records the language model finds in ``text`` (empty on failure)."""',
        f'    prompt = {prompt_name}.replace("{{payload}}", text[:20_000])',
        "    try:",
        "        response = httpx.post(",
        '            os.environ.get("LLM_API_URL", "http://localhost:8000/v1/chat/completions"),',
        '            headers={"Authorization": f"Bearer {os.environ[\'LLM_API_KEY\']}"},',
        "            json={",
        '                "model": model,',
        '                "messages": [{"role": "user", "content": prompt}],',
        '                "temperature": 0,',
        "            },",
        "            timeout=120,",
        "        )",
        "        response.raise_for_status()",
        '        content = response.json()["choices"][0]["message"]["content"]',
        "        parsed = json.loads(content)",
        "    except (httpx.HTTPError, KeyError, ValueError) as exc:",
        '        logger.warning("model extraction failed: %s", exc)',
        "        return []",
        "    return parsed if isinstance(parsed, list) else [parsed]",
    ]


STD_IMPORTS = [
    "from __future__ import annotations",
    "",
    "import json",
    "import logging",
    "import os",
    "import re",
    "import time",
    "import uuid",
    "from datetime import datetime, timedelta, timezone",
    "from typing import Any",
    "",
    "import httpx",
]

# -- file sizes ------------------------------------------------------------------------------------

# Every module of a unit is generated with little bulk, then padded to a line count drawn from its
# package's size distribution, so that the spread of file sizes matches the real warehouse (194
# files, 28.5k lines: median ~130 lines per file, 90th percentile ~240, largest 767). Each list is
# a piecewise-linear quantile function, (quantile, lines); a package with n modules gets the
# values at quantiles (i + 0.5) / n, matched to its modules roughly by their unpadded size. A
# module that is already longer than its target keeps its length.
SIZE_QUANTILES: dict[str, list[tuple[float, int]]] = {
    "ingest": [(0.0, 95), (0.1, 108), (0.25, 118), (0.5, 134), (0.75, 160), (0.9, 255), (1.0, 300)],
    "extraction": [(0.0, 100), (0.25, 107), (0.5, 118), (0.75, 140), (0.9, 210), (1.0, 255)],
    "common": [(0.0, 33), (0.25, 50), (0.5, 70), (0.75, 102), (0.9, 195), (1.0, 275)],
}
# Two ingest modules of every unit have fixed roles and sizes: the one the "one ingest file
# changed" rows edit (on the real warehouse a ~400-line module holding 4 Modal functions) and the
# largest module of the unit (the real warehouse's largest file has 767 lines).
EDIT_MODULE_LINES = 400
LARGEST_MODULE_LINES = 767
MODEL_SUFFIXES = ("Record", "Item", "Row", "Summary", "Event")


def quantile_targets(knots: list[tuple[float, int]], n: int) -> list[int]:
    """Returns ``n`` line counts spread as the quantile function ``knots``, ascending."""
    out = []
    for i in range(n):
        qi = (i + 0.5) / n
        for (q0, v0), (q1, v1) in zip(knots, knots[1:], strict=False):
            if qi <= q1:
                out.append(round(v0 + (v1 - v0) * (qi - q0) / (q1 - q0)))
                break
    return out


def size_stats(line_counts: list[int]) -> dict[str, float]:
    """Median, 90th percentile (nearest rank), max and total of per-file line counts."""
    v = sorted(line_counts)
    if not v:
        return {"median": 0, "p90": 0, "max": 0, "total": 0}
    rank = max(0, -(-9 * len(v) // 10) - 1)  # ceil(0.9 n) - 1
    return {"median": statistics.median(v), "p90": v[rank], "max": v[-1], "total": sum(v)}


def top_level_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        m = re.match(r"(?:def |class )?([A-Za-z_]\w*)", line)
        if m and not line.startswith((" ", "#", "@", "from ", "import ")):
            names.add(m.group(1))
    return names


@dataclass
class Pending:
    """A module waiting to be padded to its size (see ``Unit.finish``)."""

    dotted: str
    lines: list[str]
    pad: str  # "code", "code-nomodel", "models", "prompts", "maps"
    target: int | None = None  # fixed size (the role modules); None: drawn from SIZE_QUANTILES


# -- the plan --------------------------------------------------------------------------------------


@dataclass
class Counts:
    sites: dict[str, int] = field(default_factory=dict)

    def add(self, via: str, n: int = 1) -> None:
        self.sites[via] = self.sites.get(via, 0) + n


@dataclass
class Helper:
    """A function other modules import; ``tables`` are the tables it writes, transitively."""

    module: str
    name: str
    tables: frozenset[str]


@dataclass
class IngestFn:
    module: str
    name: str
    kind: str
    modal_name: str
    deployed: bool
    tables: frozenset[str]
    slugs: list[str]
    provider: str
    entity: str
    raw_table: str
    extracted_table: str
    unresolved: int = 0


@dataclass
class Extraction:
    module: str  # dotted module name
    entity: str
    topic: str
    table: str  # extracted table, unqualified
    main: Helper
    batch: Helper | None


def entity_core(entity: str, topic: str) -> str:
    if topic == "job_postings":
        return "core.job_listings"
    return {
        "company": "core.companies",
        "person": "core.people",
        "target_client": "core.target_clients",
    }[entity]


class Unit:
    """One scale unit: ~194 files under distinct names (unit 0 has no name suffix)."""

    def __init__(self, seed: int, k: int) -> None:
        self.k = k
        self.rng = random.Random(f"conformance-bench:{seed}:{k}")
        self.s = f"_x{k}" if k else ""
        self.slug_s = f"-x{k}" if k else ""
        self.files: list[tuple[str, str]] = []
        self.functions: list[IngestFn] = []
        self.app_imports: list[tuple[str, list[str]]] = []
        self.counts = Counts()
        self.helpers: dict[str, Helper] = {}
        self.pending: list[Pending] = []
        self.edit_module = ""  # path of the module the one-file rows edit
        self.largest_module = ""  # path of the largest ingest module

    # small helpers ---------------------------------------------------------------------------
    def mod(self, package: str, name: str) -> str:
        return f"{package}.{name}{self.s}"

    def emit(
        self, dotted: str, lines: list[str], pad: str = "code", target: int | None = None
    ) -> None:
        self.pending.append(Pending(dotted, lines, pad, target))

    @staticmethod
    def path_of(dotted: str) -> str:
        return f"{SRC}/{dotted.replace('.', '/')}.py"

    def finish(self) -> None:
        """Pads every module to its size and writes it into ``self.files``."""
        rng = self.rng
        targets: dict[int, int] = {}
        for package, knots in SIZE_QUANTILES.items():
            members = [
                i
                for i, m in enumerate(self.pending)
                if m.dotted.startswith(package + ".") and m.target is None
            ]
            # longer modules get the longer targets, with some noise
            members.sort(key=lambda i: len(self.pending[i].lines) * rng.uniform(0.92, 1.08))
            for i, target in zip(members, quantile_targets(knots, len(members)), strict=True):
                targets[i] = target
        for i, m in enumerate(self.pending):
            target = m.target if m.target is not None else targets.get(i, 0)
            lines = self.pad(m.lines, target, m.pad, m.dotted)
            self.files.append((self.path_of(m.dotted), "\n".join(lines).rstrip() + "\n"))
        self.pending = []

    def pad_block(self, style: str, names: set[str], room: int, prefix: str) -> list[str]:
        """Returns one top-level block of bulk (at most about ``room`` lines), named uniquely."""
        rng = self.rng
        choices = {
            "code": ("util",) * 11 + ("model",) * 3 + ("dict",) * 3 + ("payload", "prompt"),
            "code-nomodel": ("util",) * 3 + ("dict",),
            "models": ("model",),
            "prompts": ("prompt",),
            "maps": ("dict",),
        }[style]
        what = rng.choice(choices) if room >= 40 else "dict"
        for _ in range(20):
            if what == "util":
                kind = rng.choice(UTIL_NAMES)
                name = f"{prefix}{kind}_{rng.choice(FIELDS)}"
                if name not in names:
                    names.add(name)
                    return util_function(rng, kind, name)
            elif what == "model":
                topic = rng.choice(COMPANY_TOPICS + PERSON_TOPICS + CLIENT_TOPICS)
                name = f"{camel(topic)}{rng.choice(MODEL_SUFFIXES)}"
                if name not in names:
                    names.add(name)
                    return model_class(rng, name, rng.randint(6, 13))
            elif what == "payload":
                name = f"SAMPLE_{rng.choice(NOUNS).upper()}_PAYLOAD"
                if name not in names:
                    names.add(name)
                    return sample_payload(rng, name, rng.randint(1, 2))
            elif what == "prompt":
                topic = rng.choice(COMPANY_TOPICS + PERSON_TOPICS)
                name = f"{topic.upper()}_PROMPT"
                if name not in names:
                    names.add(name)
                    return prompt_block(rng, name, topic, rng.randint(6, 12))
            else:
                name = (
                    f"{rng.choice(PROVIDERS).upper()}_{rng.choice(COMPANY_TOPICS).upper()}_FIELDS"
                )
                if name not in names:
                    names.add(name)
                    n = max(1, min(room - 2, len(FIELDS), rng.randint(14, 34)))
                    return dict_block(rng, name, n)
        return []

    def pad(self, lines: list[str], target: int, style: str, dotted: str) -> list[str]:
        """Returns ``lines`` with bulk blocks added until it has about ``target`` lines: before
        the first decorated function in ingest modules, at the end elsewhere."""
        lines = list(lines)
        while lines and not lines[-1]:
            lines.pop()
        names = top_level_names(lines)
        prefix = "" if dotted.startswith("common.") else "_"
        blocks: list[list[str]] = []
        need = target - len(lines)
        while need >= 5:  # each block costs its lines + 2 blank lines
            block = self.pad_block(style, names, need - 2, prefix)
            if not block:
                break
            if len(block) + 2 > need + 2:  # too long: a dict block sized to what is left
                block = self.pad_block("maps", names, need - 2, prefix)
                if not block:
                    break
            blocks.append(block)
            need -= len(block) + 2
        if not blocks:
            return lines
        at = next(
            (i for i, line in enumerate(lines) if line.startswith("@")),
            None,
        )
        if dotted.startswith("ingest.") and at is not None:
            bulk = [line for b in blocks for line in b + ["", ""]]
            return lines[:at] + bulk + lines[at:]
        return lines + [line for b in blocks for line in ["", ""] + b]

    def helper(self, key: str, module: str, name: str, tables: set[str] | frozenset[str]) -> Helper:
        h = Helper(module, name, frozenset(tables))
        self.helpers[key] = h
        return h

    def header(self, title: str, n_sentences: int) -> list[str]:
        return docstring(self.rng, title, "", n_sentences) + [""] + list(STD_IMPORTS)

    def utils(self, lines: list[str], count: int, prefix: str = "_") -> list[str]:
        names = []
        for kind in self.rng.sample(UTIL_NAMES, min(count, len(UTIL_NAMES))):
            fn = f"{prefix}{kind}_{self.rng.choice(FIELDS)}"
            if fn in names:
                continue
            names.append(fn)
            lines += ["", ""] + util_function(self.rng, kind, fn)
        return names

    # build -----------------------------------------------------------------------------------
    def build(self) -> None:
        self.build_common()
        self.build_extraction()
        self.build_ingest()
        self.finish()

    # common/ ---------------------------------------------------------------------------------
    def build_common(self) -> None:
        rng = self.rng
        s = self.s
        # db: client factories and generic helpers (schema and table come from call sites).
        db = self.mod("common", "db")
        lines = self.header("Supabase clients and generic write helpers.", rng.randint(3, 6))
        lines += [
            "",
            "from supabase import Client, ClientOptions, create_client",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            "DEFAULT_CHUNK_SIZE = 500",
            "MAX_RETRIES = 3",
            "",
            "",
            "def get_client() -> Client:",
            '    """Returns a service-role client for the warehouse project."""',
            '    return create_client(os.environ["SUPABASE_URL"], os.environ["SUPABASE_SERVICE_KEY"])',
            "",
            "",
            "def get_raw_client() -> Client:",
            '    """Returns a client whose default schema is ``raw``."""',
            "    return create_client(",
            '        os.environ["SUPABASE_URL"],',
            '        os.environ["SUPABASE_SERVICE_KEY"],',
            '        options=ClientOptions(schema="raw"),',
            "    )",
            "",
            "",
            "def chunked(rows: list[dict[str, Any]], size: int = DEFAULT_CHUNK_SIZE):",
            '    """Yields ``rows`` in slices of at most ``size``."""',
            "    for start in range(0, len(rows), size):",
            "        yield rows[start : start + size]",
            "",
            "",
            "def upsert_rows(",
            "    client: Client,",
            "    schema: str,",
            "    table: str,",
            "    rows: list[dict[str, Any]],",
            "    on_conflict: str | None = None,",
            ") -> int:",
            '    """Upserts ``rows`` into ``schema.table`` in chunks; returns the number written."""',
            "    written = 0",
            "    for chunk in chunked(rows):",
            "        for attempt in range(MAX_RETRIES):",
            "            try:",
            "                query = client.schema(schema).from_(table)",
            "                if on_conflict:",
            "                    query.upsert(list(chunk), on_conflict=on_conflict).execute()",
            "                else:",
            "                    query.upsert(list(chunk)).execute()",
            "                written += len(chunk)",
            "                break",
            "            except Exception as exc:  # noqa: BLE001 - retried, then re-raised",
            '                logger.warning("upsert into %s.%s failed (%s), attempt %d",',
            "                               schema, table, exc, attempt + 1)",
            "                if attempt == MAX_RETRIES - 1:",
            "                    raise",
            "                time.sleep(2**attempt)",
            "    return written",
            "",
            "",
            "def insert_row(client: Client, schema: str, table: str, row: dict[str, Any]) -> str:",
            '    """Inserts one row into ``schema.table`` and returns its id."""',
            "    result = client.schema(schema).table(table).insert(row).execute()",
            "    if not result.data:",
            '        raise RuntimeError(f"insert into {schema}.{table} returned no row")',
            '    return str(result.data[0]["id"])',
            "",
            "",
            "def update_rows(",
            "    client: Client, schema: str, table: str, values: dict[str, Any],",
            "    match: dict[str, Any],",
            ") -> None:",
            '    """Updates the rows of ``schema.table`` whose columns equal ``match``."""',
            "    query = client.schema(schema).from_(table).update(values)",
            "    for column, value in match.items():",
            "        query = query.eq(column, value)",
            "    query.execute()",
        ]
        self.utils(lines, rng.randint(1, 3), prefix="")
        self.emit(db, lines, pad="code-nomodel")
        self.db = db

        # logging: public.scrape_log and public.ingest_errors (no .schema(): default schema).
        lg = self.mod("common", "logging_utils")
        lines = self.header("Structured logging and the scrape log tables.", rng.randint(2, 5))
        lines += [
            "",
            "from supabase import Client",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            "",
            'def configure_logging(level: str = "INFO") -> None:',
            '    """Configures JSON-ish log lines for Modal\'s log viewer."""',
            "    logging.basicConfig(",
            "        level=getattr(logging, level.upper(), logging.INFO),",
            '        format="%(asctime)s %(levelname)s %(name)s %(message)s",',
            "    )",
            "",
            "",
            "def log_scrape(client: Client, workflow_slug: str, status: str, detail: str | None = None) -> None:",
            '    """Appends one row to the scrape log; never raises."""',
            "    try:",
            '        client.table("scrape_log").insert(',
            "            {",
            '                "workflow_slug": workflow_slug,',
            '                "status": status,',
            '                "detail": (detail or "")[:2000],',
            '                "logged_at": datetime.now(timezone.utc).isoformat(),',
            "            }",
            "        ).execute()",
            "    except Exception:  # noqa: BLE001 - logging must not break ingest",
            '        logger.exception("could not write scrape_log for %s", workflow_slug)',
            "",
            "",
            "def log_error(client: Client, workflow_slug: str, message: str) -> None:",
            '    """Records an ingest failure for the on-call dashboard; never raises."""',
            "    try:",
            '        client.schema("public").from_("ingest_errors").insert(',
            '            {"workflow_slug": workflow_slug, "message": message[:4000]}',
            "        ).execute()",
            "    except Exception:  # noqa: BLE001",
            '        logger.exception("could not record error for %s", workflow_slug)',
        ]
        self.counts.add("default-schema")
        self.counts.add("literal")
        self.utils(lines, rng.randint(1, 2), prefix="")
        self.emit(lg, lines, pad="code-nomodel")
        self.helper("log_scrape", lg, "log_scrape", {"public.scrape_log"})
        self.helper("log_error", lg, "log_error", {"public.ingest_errors"})

        # registry client: a read, an rpc and a reference write.
        rc = self.mod("common", "registry_client")
        lines = self.header(
            "Reads the workflow registry and records workflow runs.", rng.randint(2, 4)
        )
        lines += [
            "",
            "from supabase import Client",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            'REGISTRY_SCHEMA = "reference"',
            'REGISTRY_TABLE = "enrichment_workflow_registry"',
            "",
            "",
            "def load_workflow(client: Client, workflow_slug: str) -> dict[str, Any] | None:",
            '    """Returns the registry row of ``workflow_slug`` (None when unknown)."""',
            "    result = (",
            "        client.schema(REGISTRY_SCHEMA)",
            "        .from_(REGISTRY_TABLE)",
            '        .select("*")',
            '        .eq("workflow_slug", workflow_slug)',
            "        .limit(1)",
            "        .execute()",
            "    )",
            "    return result.data[0] if result.data else None",
            "",
            "",
            "def merge_company(client: Client, domain: str) -> None:",
            '    """Asks the database to merge duplicate companies of ``domain``."""',
            '    client.rpc("merge_company", {"p_domain": domain}).execute()',
            "",
            "",
            "def record_run(client: Client, workflow_slug: str, raw_id: str | None, records: int) -> None:",
            '    """Records one run of a workflow for the freshness report."""',
            '    client.schema("reference").from_("workflow_runs").insert(',
            "        {",
            '            "workflow_slug": workflow_slug,',
            '            "raw_id": raw_id,',
            '            "records": records,',
            '            "ran_at": datetime.now(timezone.utc).isoformat(),',
            "        }",
            "    ).execute()",
        ]
        self.counts.add("literal")
        self.emit(rc, lines, pad="code-nomodel")
        self.helper("load_workflow", rc, "load_workflow", set())
        self.helper("merge_company", rc, "merge_company", set())
        self.helper("record_run", rc, "record_run", {"reference.workflow_runs"})

        # psycopg helpers with SQL text.
        pg = self.mod("common", "pg")
        lines = self.header("Direct Postgres access for set-based maintenance.", rng.randint(2, 5))
        lines += [
            "",
            "import psycopg",
            "from psycopg import sql",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            "",
            "def get_conn() -> psycopg.Connection:",
            '    """Returns an autocommit connection to the warehouse."""',
            '    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)',
            "",
            "",
            "def insert_job_batch(batch_id: str, source: str) -> None:",
            '    """Registers a batch of job listings before its rows arrive."""',
            "    with get_conn() as conn, conn.cursor() as cur:",
            '        cur.execute("""INSERT INTO raw.job_batches (id, source) VALUES (%s, %s)""", (batch_id, source))',
            "",
            "",
            "def refresh_company_customers() -> int:",
            '    """Copies resolved domains from extracted case studies onto core customers."""',
            "    with get_conn() as conn, conn.cursor() as cur:",
            "        cur.execute(",
            '            """',
            "            UPDATE core.company_customers c",
            "               SET domain = e.domain, updated_at = now()",
            "              FROM extracted.case_studies e",
            "             WHERE c.url = e.url AND c.domain IS DISTINCT FROM e.domain",
            '            """',
            "        )",
            "        return cur.rowcount",
            "",
            "",
            "def promote_champions(limit: int = 100) -> None:",
            '    """Promotes the best extracted champions into core."""',
            "    with get_conn() as conn, conn.cursor() as cur:",
            "        cur.execute(",
            '            "INSERT INTO core.champions (name) SELECT name FROM extracted.champions '
            'ORDER BY score DESC LIMIT %(n)s",',
            '            {"n": limit},',
            "        )",
            "",
            "",
            "def purge_staging_row(row_id: int) -> None:",
            '    """Deletes one staging row after it has been replayed."""',
            "    with get_conn() as conn, conn.cursor() as cur:",
            "        cur.execute(",
            '            sql.SQL("DELETE FROM {} WHERE id = %s").format(sql.Identifier("staging", "rows")),',
            "            (row_id,),",
            "        )",
            "",
            "",
            "def replay_pending_rows() -> None:",
            '    """Moves pending staging rows into raw in one statement."""',
            "    with get_conn() as conn, conn.cursor() as cur:",
            "        cur.execute(",
            '            """',
            "            WITH moved AS (DELETE FROM staging.pending_rows RETURNING *)",
            "            INSERT INTO raw.replayed_rows SELECT * FROM moved",
            '            """',
            "        )",
            "",
            "",
            "def merge_company_domains() -> None:",
            '    """Merges queued domain updates into core."""',
            "    with get_conn() as conn, conn.cursor() as cur:",
            "        cur.execute(",
            '            """',
            "            MERGE INTO core.company_domains d",
            "            USING staging.domain_updates u ON d.domain = u.domain",
            "            WHEN MATCHED THEN UPDATE SET company_id = u.company_id",
            "            WHEN NOT MATCHED THEN INSERT (domain, company_id) VALUES (u.domain, u.company_id)",
            '            """',
            "        )",
            "",
            "",
            "def reset_scratch() -> None:",
            '    """Empties the scratch table and notes it."""',
            "    with get_conn() as conn, conn.cursor() as cur:",
            "        cur.execute(",
            "            \"TRUNCATE staging.scratch_rows; INSERT INTO staging.scratch_log (note) VALUES ('reset')\"",
            "        )",
        ]
        self.counts.add("sql", 9)
        self.utils(lines, rng.randint(0, 2), prefix="")
        self.emit(pg, lines, pad="code-nomodel")
        self.helper("insert_job_batch", pg, "insert_job_batch", {"raw.job_batches"})
        self.helper(
            "refresh_company_customers", pg, "refresh_company_customers", {"core.company_customers"}
        )
        self.helper("promote_champions", pg, "promote_champions", {"core.champions"})
        self.helper("purge_staging_row", pg, "purge_staging_row", {"staging.rows"})
        self.helper(
            "replay_pending_rows",
            pg,
            "replay_pending_rows",
            {"staging.pending_rows", "raw.replayed_rows"},
        )
        self.helper("merge_company_domains", pg, "merge_company_domains", {"core.company_domains"})
        self.helper(
            "reset_scratch", pg, "reset_scratch", {"staging.scratch_rows", "staging.scratch_log"}
        )

        pgl = self.mod("common", "pg_legacy")
        lines = self.header("psycopg2 helpers kept for the job-listing loaders.", rng.randint(1, 3))
        lines += [
            "",
            "import psycopg2",
            "from psycopg2.extras import execute_values",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            "",
            "def bulk_insert_job_listings(rows: list[tuple[Any, ...]]) -> None:",
            '    """Inserts job listings, ignoring ones already known."""',
            '    conn = psycopg2.connect(os.environ["DATABASE_URL"])',
            "    try:",
            "        with conn, conn.cursor() as cur:",
            "            execute_values(",
            "                cur,",
            '                "INSERT INTO raw.job_listings (id, title) VALUES %s ON CONFLICT (id) DO NOTHING",',
            "                rows,",
            "            )",
            "    finally:",
            "        conn.close()",
            "",
            "",
            "def record_batch_status(batch_id: str, status: str) -> None:",
            '    """Marks a job batch as done or failed."""',
            '    conn = psycopg2.connect(os.environ["DATABASE_URL"])',
            "    try:",
            "        with conn, conn.cursor() as cur:",
            '            cur.execute("UPDATE raw.job_batches SET status = %s WHERE id = %s", (status, batch_id))',
            "    finally:",
            "        conn.close()",
        ]
        self.counts.add("sql", 2)
        self.emit(pgl, lines, pad="code-nomodel")
        self.helper(
            "bulk_insert_job_listings", pgl, "bulk_insert_job_listings", {"raw.job_listings"}
        )
        self.helper("record_batch_status", pgl, "record_batch_status", {"raw.job_batches"})

        # core writers: helpers calling helpers, constants, generic call sites, loops, split chains.
        cc = self.mod("common", "core_company")
        profile_mod = self.mod("extraction", "company_profile")
        company_tables = {
            "core.companies",
            "core.company_tags",
            "core.company_keywords",
            "core.company_categories",
        }
        lines = self.header("Writes to the core company tables.", rng.randint(3, 6))
        lines += [
            "",
            "from supabase import Client",
            "",
            f"from common.db{s} import upsert_rows",
            f"from extraction import company_profile{s}",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            'CORE_COMPANIES = "companies"',
            "",
            "",
            "def upsert_core_company(client: Client, domain: str, record: dict[str, Any]) -> dict[str, Any]:",
            '    """Upserts the core company of ``domain`` with its tags, keywords and categories."""',
            "    row = {",
            '        "domain": domain.lower().strip(),',
            '        "name": record.get("name") or record.get("company_name"),',
            '        "industry": record.get("industry"),',
            '        "employee_count": record.get("employee_count"),',
            '        "updated_at": datetime.now(timezone.utc).isoformat(),',
            "    }",
            '    client.schema("core").from_(CORE_COMPANIES).upsert(row, on_conflict="domain").execute()',
            '    tags = [{"domain": row["domain"], "tag": tag} for tag in record.get("tags") or []]',
            "    if tags:",
            '        upsert_rows(client, "core", "company_tags", tags, on_conflict="domain,tag")',
            '    _upsert_taxonomy(client, row["domain"], record)',
            "    return row",
            "",
            "",
            "def _upsert_taxonomy(client: Client, domain: str, record: dict[str, Any]) -> None:",
            '    for table in ("company_keywords", "company_categories"):',
            '        values = record.get(table.split("_", 1)[1]) or []',
            "        if not values:",
            "            continue",
            '        rows = [{"domain": domain, "value": value} for value in values]',
            '        client.schema("core").from_(table).upsert(rows, on_conflict="domain,value").execute()',
            "",
            "",
            "def upsert_company_domains(client: Client, rows: list[dict[str, Any]]) -> None:",
            '    """Upserts alternative domains of companies."""',
            '    tbl = client.schema("core").from_("company_domains")',
            '    cleaned = [row for row in rows if row.get("domain")]',
            "    if not cleaned:",
            "        return",
            '    tbl.upsert(cleaned, on_conflict="domain").execute()',
            "",
            "",
            "def enrich_company_profile(client: Client, domain: str, payload: dict[str, Any]) -> dict[str, Any]:",
            '    """Builds a profile from ``payload`` and upserts it as the core company."""',
            f"    profile = company_profile{s}.build_profile(payload)",
            "    return upsert_core_company(client, domain, profile)",
        ]
        self.counts.add("constant")
        self.counts.add("argument")
        self.counts.add("loop", 2)
        self.counts.add("literal")
        self.utils(lines, rng.randint(1, 3))
        self.emit(cc, lines, pad="code-nomodel")
        self.helper("upsert_core_company", cc, "upsert_core_company", company_tables)
        self.helper(
            "upsert_company_domains", cc, "upsert_company_domains", {"core.company_domains"}
        )
        self.helper("enrich_company_profile", cc, "enrich_company_profile", company_tables)
        self.profile_mod = profile_mod

        cp = self.mod("common", "core_person")
        person_tables = {"core.people", "core.person_companies"}
        lines = self.header("Writes to the core people tables.", rng.randint(2, 5))
        lines += [
            "",
            "from supabase import Client",
            "",
            f"from common.core_company{s} import upsert_core_company",
            f"from common.db{s} import insert_row",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            "",
            "def upsert_core_person(client: Client, people: list[dict[str, Any]]) -> int:",
            '    """Upserts people keyed by LinkedIn URL and links them to their company."""',
            '    rows = [p for p in people if p.get("linkedin_url") or p.get("email")]',
            "    if not rows:",
            "        return 0",
            '    client.schema("core").table("people").insert(rows, upsert=True).execute()',
            "    for person in rows:",
            '        if person.get("domain"):',
            '            link_person_company(client, person, person["domain"])',
            "    return len(rows)",
            "",
            "",
            "def link_person_company(client: Client, person: dict[str, Any], domain: str) -> None:",
            '    """Records that ``person`` works at the company of ``domain``."""',
            "    insert_row(",
            "        client,",
            '        "core",',
            '        "person_companies",',
            '        {"person_key": person.get("linkedin_url") or person.get("email"), "domain": domain},',
            "    )",
            "",
            "",
            "def ensure_person_company(client: Client, person: dict[str, Any], domain: str) -> None:",
            '    """Makes sure the company exists in core before linking ``person`` to it."""',
            '    upsert_core_company(client, domain, {"name": person.get("employer")})',
            "    link_person_company(client, person, domain)",
        ]
        self.counts.add("literal")
        self.counts.add("argument")
        self.utils(lines, rng.randint(1, 3))
        self.emit(cp, lines, pad="code-nomodel")
        self.helper("upsert_core_person", cp, "upsert_core_person", person_tables)
        self.helper(
            "ensure_person_company",
            cp,
            "ensure_person_company",
            company_tables | {"core.person_companies"},
        )

        ct = self.mod("common", "core_client")
        lines = self.header("Writes to the core target-client tables.", rng.randint(2, 4))
        lines += [
            "",
            "from supabase import Client",
            "",
            f"from common.db{s} import upsert_rows",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            "",
            "def upsert_target_client(client: Client, record: dict[str, Any]) -> None:",
            '    """Updates the target client of ``record`` or inserts it when new."""',
            '    account_id = record.get("account_id")',
            "    if account_id:",
            '        client.schema("core").from_("target_clients").update(record).eq("account_id", account_id).execute()',
            "    else:",
            '        client.schema("core").from_("target_clients").insert(record).execute()',
            '    signals = record.get("signals") or []',
            "    if signals:",
            '        upsert_rows(client, "core", "client_signals", signals, on_conflict="account_id,signal")',
        ]
        self.counts.add("literal", 2)
        self.counts.add("argument")
        self.utils(lines, rng.randint(1, 3))
        self.emit(ct, lines, pad="code-nomodel")
        self.helper(
            "upsert_target_client",
            ct,
            "upsert_target_client",
            {"core.target_clients", "core.client_signals"},
        )

        cj = self.mod("common", "core_jobs")
        lines = self.header("Writes to the core job listing table.", rng.randint(2, 4))
        lines += [
            "",
            "from supabase import Client",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            'JOBS_TABLE = "job_listings"',
            "STALE_AFTER_DAYS = 45",
            "",
            "",
            "def upsert_core_jobs(client: Client, jobs: list[dict[str, Any]]) -> int:",
            '    """Upserts job listings and deletes the stale ones of the same companies."""',
            "    if not jobs:",
            "        return 0",
            '    client.schema("core").table(JOBS_TABLE).upsert(jobs, on_conflict="source_url").execute()',
            "    cutoff = (datetime.now(timezone.utc) - timedelta(days=STALE_AFTER_DAYS)).isoformat()",
            '    for domain in sorted({job.get("domain") for job in jobs if job.get("domain")}):',
            "        (",
            '            client.schema("core")',
            "            .from_(JOBS_TABLE)",
            "            .delete()",
            '            .eq("domain", domain)',
            '            .lt("last_seen", cutoff)',
            "            .execute()",
            "        )",
            "    return len(jobs)",
        ]
        self.counts.add("constant", 2)
        self.utils(lines, rng.randint(1, 3))
        self.emit(cj, lines, pad="code-nomodel")
        self.helper("upsert_core_jobs", cj, "upsert_core_jobs", {"core.job_listings"})

        # bulk modules: models, prompts, field maps, plain utilities.
        self.model_modules: list[tuple[str, list[str]]] = []
        for i in range(1, 7):
            name = self.mod("common", f"models_{i}")
            lines = self.header("Pydantic models shared by the ingest modules.", rng.randint(1, 3))
            lines += ["", "from pydantic import BaseModel, Field, field_validator"]
            classes = []
            for _ in range(rng.randint(1, 3)):
                topic = rng.choice(COMPANY_TOPICS + PERSON_TOPICS + CLIENT_TOPICS)
                cls = f"{camel(topic)}{rng.choice(('Record', 'Item', 'Row', 'Summary', 'Event'))}"
                if cls in classes:
                    continue
                classes.append(cls)
                lines += ["", ""] + model_class(rng, cls, rng.randint(6, 13))
            self.emit(name, lines, pad="models")
            self.model_modules.append((name, classes))
        self.prompt_modules: list[tuple[str, list[str]]] = []
        for i in range(1, 6):
            name = self.mod("common", f"prompts_{i}")
            lines = docstring(
                rng, "Prompts for the language-model extractors.", "", rng.randint(1, 3)
            )
            names = []
            for _ in range(rng.randint(1, 2)):
                topic = rng.choice(COMPANY_TOPICS + PERSON_TOPICS)
                pname = f"{topic.upper()}_PROMPT"
                if pname in names:
                    continue
                names.append(pname)
                lines += [""] + prompt_block(rng, pname, topic, rng.randint(6, 12))
            self.emit(name, lines, pad="prompts")
            self.prompt_modules.append((name, names))
        self.map_modules: list[tuple[str, list[str]]] = []
        for i in range(1, 5):
            name = self.mod("common", f"field_maps_{i}")
            lines = docstring(
                rng, "Field maps from provider payloads to table columns.", "", rng.randint(1, 3)
            )
            names = []
            for _ in range(rng.randint(1, 2)):
                mname = (
                    f"{rng.choice(PROVIDERS).upper()}_{rng.choice(COMPANY_TOPICS).upper()}_FIELDS"
                )
                if mname in names:
                    continue
                names.append(mname)
                lines += [""] + dict_block(rng, mname, rng.randint(22, 34))
            self.emit(name, lines, pad="maps")
            self.map_modules.append((name, names))
        for util in (
            "http_utils",
            "retry",
            "settings",
            "auth",
            "dates",
            "text_utils",
            "slugs",
            "validation",
            "serialization",
            "metrics",
        ):
            name = self.mod("common", util)
            lines = self.header(f"{title_of(util).capitalize()} helpers.", rng.randint(1, 4))
            lines += ["", "logger = logging.getLogger(__name__)"]
            self.utils(lines, rng.randint(2, 4), prefix="")
            self.emit(name, lines, pad="code-nomodel")

    # extraction/ -----------------------------------------------------------------------------
    def build_extraction(self) -> None:
        self.extractions: list[Extraction] = []
        topics = (
            [("company", t) for t in COMPANY_TOPICS]
            + [("person", t) for t in PERSON_TOPICS]
            + [("target_client", t) for t in CLIENT_TOPICS]
        )
        # the company profile module is part of an import cycle with common.core_company.
        self.build_profile_module()
        for entity, topic in topics:
            self.extractions.append(self.build_extraction_module(entity, topic))

    def build_profile_module(self) -> None:
        rng = self.rng
        s = self.s
        cc = self.helpers["upsert_core_company"]
        table = f"company_profiles{s}"
        lines = self.header(
            "Company profile extraction (shared with core_company).", rng.randint(3, 6)
        )
        lines += [
            "",
            "from supabase import Client",
            "",
            f"from {cc.module} import upsert_core_company",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            f"PROFILE_TABLE = {q(table)}",
            "",
        ]
        lines += dict_block(rng, "PROFILE_FIELDS", rng.randint(25, 40))
        lines += [
            "",
            "",
            "def build_profile(payload: dict[str, Any]) -> dict[str, Any]:",
            '    """Returns the profile columns found in ``payload``."""',
            "    profile: dict[str, Any] = {}",
            "    for path, column in PROFILE_FIELDS.items():",
            "        value: Any = payload",
            '        for part in path.split("."):',
            "            value = value.get(part) if isinstance(value, dict) else None",
            "        if value is not None:",
            "            profile[column] = value",
            "    return profile",
            "",
            "",
            "def extract_company_profile(client: Client, raw_id: str, payload: dict[str, Any]) -> int:",
            '    """Writes the extracted profile and its core company."""',
            "    profile = build_profile(payload)",
            '    domain = profile.get("domain")',
            "    if not domain:",
            "        return 0",
            '    profile["raw_id"] = raw_id',
            '    client.schema("extracted").from_(PROFILE_TABLE).upsert(profile, on_conflict="domain").execute()',
            "    upsert_core_company(client, domain, profile)",
            "    return 1",
        ]
        self.counts.add("constant")
        self.utils(lines, rng.randint(2, 4))
        self.emit(self.profile_mod, lines)
        h = self.helper(
            "extract_company_profile",
            self.profile_mod,
            "extract_company_profile",
            {f"extracted.{table}"} | cc.tables,
        )
        self.extractions.append(Extraction(self.profile_mod, "company", "profile", table, h, None))

    def build_extraction_module(self, entity: str, topic: str) -> Extraction:
        rng = self.rng
        s = self.s
        ext_name = f"{entity}_{topic}"
        module = self.mod("extraction", ext_name)
        table = f"{ext_name}{s}"
        sources_table = f"{ext_name}_sources{s}"
        fn = f"extract_{ext_name}"
        record_cls = f"{camel(ext_name)}Record"
        style = rng.choices("abcde", weights=(18, 22, 22, 20, 18))[0]
        core_call = None
        if rng.random() < 0.65:
            if topic == "job_postings":
                core_call = "upsert_core_jobs"
            elif entity == "company":
                core_call = rng.choice(
                    ("upsert_core_company", "upsert_core_company", "upsert_company_domains")
                )
            elif entity == "person":
                core_call = rng.choice(
                    ("upsert_core_person", "upsert_core_person", "ensure_person_company")
                )
            else:
                core_call = "upsert_target_client"
        use_llm = rng.random() < 0.3
        use_map = rng.random() < 0.35
        audit = rng.random() < 0.6
        tables = {f"extracted.{table}"}

        imports = [
            "",
            "from pydantic import BaseModel, Field, ValidationError, field_validator",
            "from supabase import Client",
            "",
        ]
        if style in "de":
            imports.append(f"from {self.db} import upsert_rows")
        if core_call:
            h = self.helpers[core_call]
            imports.append(f"from {h.module} import {core_call}")
            tables |= h.tables
        if use_llm:
            pmod, pnames = rng.choice(self.prompt_modules)
            prompt = rng.choice(pnames)
            imports.append(f"from {pmod} import {prompt}")
        if use_map:
            mmod, mnames = rng.choice(self.map_modules)
            fmap = rng.choice(mnames)
            imports.append(f"from {mmod} import {fmap}")
        if audit:
            imports.append(f"from {self.db} import insert_row")
        lines = self.header(
            f"Extraction of {title_of(topic)} for the {title_of(entity)} entity.",
            rng.randint(1, 4),
        )
        lines += imports
        lines += [
            "",
            "logger = logging.getLogger(__name__)",
            "",
            f"EXTRACTED_TABLE = {q(table)}",
            f"ON_CONFLICT = {q(rng.choice(('source_id', 'raw_id,source_id', 'domain', 'external_id')))}",
            f"MAX_ITEMS = {rng.choice((200, 500, 1000, 5000))}",
            "",
        ]
        if use_map:
            lines.append(f"FIELD_MAP = {fmap}")
        else:
            lines += dict_block(rng, "FIELD_MAP", rng.randint(6, 16))
        lines += ["", ""] + model_class(
            rng,
            record_cls,
            rng.randint(5, 10),
            extra=["raw_id: str", "source_id: str | None = None"],
        )
        self.utils(lines, rng.randint(0, 1))
        if use_llm:
            lines += ["", ""] + llm_function("_ask_model", prompt)
        lines += [
            "",
            "",
            "def build_records(raw_id: str, payload: dict[str, Any]) -> list[dict[str, Any]]:",
            f'    """Returns the {title_of(topic)} records found in ``payload``, validated."""',
            '    items = payload.get("items") or payload.get("data") or [payload]',
            "    records: list[dict[str, Any]] = []",
            "    for index, item in enumerate(items[:MAX_ITEMS]):",
            "        if not isinstance(item, dict):",
            '            logger.debug("skipping non-object item %d of %s", index, raw_id)',
            "            continue",
            "        row: dict[str, Any] = {}",
            "        for path, column in FIELD_MAP.items():",
            "            value: Any = item",
            '            for part in path.split(".")[1:]:',
            "                value = value.get(part) if isinstance(value, dict) else None",
            '            if value not in (None, "", [], {}):',
            "                row[column] = value",
            '        row["raw_id"] = raw_id',
            '        row["source_id"] = str(item.get("id") or f"{raw_id}:{index}")',
            "        try:",
            f"            record = {record_cls}(**row)",
            "        except ValidationError as exc:",
            '            logger.debug("invalid item %d of %s: %s", index, raw_id, exc)',
            "            continue",
            "        records.append(record.model_dump(exclude_none=True))",
        ]
        if use_llm:
            lines += [
                '    if not records and payload.get("text"):',
                '        for found in _ask_model(str(payload["text"])):',
                '            found["raw_id"] = raw_id',
                "            records.append(found)",
            ]
        lines.append("    return records")
        # the writer
        body: list[str] = []
        if style == "a":
            body += [
                "    (",
                '        client.schema("extracted")',
                f"        .table({q(table)})",
                "        .upsert(records, on_conflict=ON_CONFLICT)",
                "        .execute()",
                "    )",
            ]
            self.counts.add("literal")
        elif style == "b":
            body += [
                '    client.schema("extracted").from_(EXTRACTED_TABLE).upsert(records, '
                "on_conflict=ON_CONFLICT).execute()"
            ]
            self.counts.add("constant")
        elif style == "c":
            lines += [
                "",
                "",
                "def _persist(client: Client, schema: str, table: str, rows: list[dict[str, Any]]) -> None:",
                "    for start in range(0, len(rows), 500):",
                "        client.schema(schema).from_(table).upsert(rows[start : start + 500]).execute()",
            ]
            body += [
                '    _persist(client, "extracted", EXTRACTED_TABLE, records)',
                "    sources = [",
                '        {"source_id": r["source_id"], "raw_id": raw_id, "seen_at": r.get("updated_at")}',
                "        for r in records",
                "    ]",
                f'    _persist(client, "extracted", {q(sources_table)}, sources)',
            ]
            tables.add(f"extracted.{sources_table}")
            self.counts.add("argument", 2)
        elif style == "d":
            body += [
                '    upsert_rows(client, "extracted", EXTRACTED_TABLE, records, on_conflict=ON_CONFLICT)'
            ]
            self.counts.add("argument")
        else:
            lines += [
                "",
                "",
                "def _save(client: Client, table: str, rows: list[dict[str, Any]]) -> int:",
                '    return upsert_rows(client, "extracted", table, rows, on_conflict=ON_CONFLICT)',
            ]
            body += ["    _save(client, EXTRACTED_TABLE, records)"]
            self.counts.add("argument")
        if audit:
            body += [
                "    insert_row(",
                "        client,",
                '        "staging",',
                f'        "extraction_audit{s}",',
                '        {"raw_id": raw_id, "table": EXTRACTED_TABLE, "records": len(records)},',
                "    )",
            ]
            tables.add(f"staging.extraction_audit{s}")
            self.counts.add("argument")
        if core_call == "upsert_core_company":
            body += [
                "    for record in records:",
                '        domain = record.get("domain")',
                "        if domain:",
                "            upsert_core_company(client, domain, record)",
            ]
        elif core_call == "upsert_company_domains":
            body += [
                '    upsert_company_domains(client, [{"domain": r.get("domain"), '
                '"source_id": r["source_id"]} for r in records])'
            ]
        elif core_call == "upsert_core_person":
            body += ["    upsert_core_person(client, records)"]
        elif core_call == "ensure_person_company":
            body += [
                "    for record in records:",
                '        if record.get("domain"):',
                '            ensure_person_company(client, record, record["domain"])',
            ]
        elif core_call == "upsert_target_client":
            body += ["    for record in records:", "        upsert_target_client(client, record)"]
        elif core_call == "upsert_core_jobs":
            body += ["    upsert_core_jobs(client, records)"]
        lines += [
            "",
            "",
            f"def {fn}(client: Client, raw_id: str, payload: dict[str, Any]) -> int:",
        ]
        lines += docstring(
            rng,
            f"Writes the {title_of(topic)} records of one raw row; returns how many.",
            "    ",
            rng.randint(0, 3),
        )
        lines += [
            "    records = build_records(raw_id, payload)",
            "    if not records:",
            f'        logger.info("no {title_of(topic)} records in raw row %s", raw_id)',
            "        return 0",
        ]
        lines += body
        lines += [
            f'    logger.info("wrote %d {title_of(topic)} records from %s", len(records), raw_id)',
            "    return len(records)",
        ]
        main = self.helper(f"ext:{ext_name}", module, fn, tables)
        batch = None
        if rng.random() < 0.45:
            lines += [
                "",
                "",
                f"def {fn}_batch(client: Client, rows: list[dict[str, Any]]) -> int:",
                '    """Extracts every raw row of ``rows`` (dicts with ``id`` and ``payload``)."""',
                "    total = 0",
                "    for row in rows:",
                "        try:",
                f'            total += {fn}(client, row["id"], row["payload"])',
                "        except Exception:  # noqa: BLE001 - one bad row must not stop the batch",
                '            logger.exception("extraction failed for raw row %s", row.get("id"))',
                "    return total",
            ]
            batch = self.helper(f"extb:{ext_name}", module, f"{fn}_batch", tables)
        self.emit(module, lines)
        return Extraction(module, entity, topic, table, main, batch)

    # ingest/ ---------------------------------------------------------------------------------
    def build_ingest(self) -> None:
        rng = self.rng
        exts = list(self.extractions)
        # every extraction module gets an ingest module, then random ones up to 110
        plan = [(rng.choice(PROVIDERS), e) for e in exts]
        while len(plan) < 110:
            plan.append((rng.choice(PROVIDERS), rng.choice(exts)))
        seen: set[str] = set()
        modules = []
        for provider, ext in plan:
            ext_name = f"{ext.entity}_{ext.topic}"
            name = f"{provider}_{ext_name}"
            while name in seen:
                provider = rng.choice(PROVIDERS)
                name = f"{provider}_{ext_name}"
            seen.add(name)
            modules.append((name, provider, ext))
        rng.shuffle(modules)
        # main kinds: 4 cls, 1 asgi, 8 scheduled, the rest web
        kinds = ["cls"] * 4 + ["asgi"] + ["scheduled"] * 8
        kinds += ["web"] * (len(modules) - len(kinds))
        rng.shuffle(kinds)
        undeployed = set(rng.sample(range(len(modules)), 3))
        # two deployed web modules get the roles that fix their size (see EDIT_MODULE_LINES)
        web = [i for i, kind in enumerate(kinds) if kind == "web" and i not in undeployed]
        roles = dict(zip(rng.sample(web, 2), ("edit", "largest"), strict=True))
        for index, ((name, provider, ext), kind) in enumerate(zip(modules, kinds, strict=True)):
            self.build_ingest_module(
                name, provider, ext, kind, deployed=index not in undeployed, role=roles.get(index)
            )

    def raw_action(
        self,
        style: str,
        ctx: dict[str, str],
        indent: str,
        client: str = "client",
        request: str = "request",
    ) -> list[str]:
        """Returns the lines that write the raw row and bind ``raw_id``."""
        i = indent
        if style == "helper":
            return [f"{i}raw_id = _store_raw({client}, {request})"]
        if style == "literal":
            self.counts.add("literal")
            return [
                f"{i}raw_row = {{",
                f'{i}    "workflow_slug": {request}.workflow_slug,',
                f'{i}    "provider": PROVIDER,',
                f'{i}    "payload": {request}.payload,',
                f'{i}    "received_at": datetime.now(timezone.utc).isoformat(),',
                f"{i}}}",
                f'{i}inserted = {client}.schema("raw").from_({q(ctx["raw"])}).insert(raw_row).execute()',
                f'{i}raw_id = inserted.data[0]["id"]',
            ]
        if style == "generic":
            self.counts.add("argument")
            return [
                f"{i}raw_id = insert_row(",
                f"{i}    {client},",
                f'{i}    "raw",',
                f"{i}    RAW_TABLE,",
                f'{i}    {{"workflow_slug": {request}.workflow_slug, "provider": PROVIDER, "payload": {request}.payload}},',
                f"{i})",
            ]
        if style == "options":
            self.counts.add("default-schema")
            return [
                f"{i}raw_client = create_client(",
                f'{i}    os.environ["SUPABASE_URL"],',
                f'{i}    os.environ["SUPABASE_SERVICE_KEY"],',
                f'{i}    options=ClientOptions(schema="raw"),',
                f"{i})",
                f"{i}inserted = raw_client.table(RAW_TABLE).insert(",
                f'{i}    {{"workflow_slug": {request}.workflow_slug, "payload": {request}.payload}}',
                f"{i}).execute()",
                f'{i}raw_id = inserted.data[0]["id"]',
            ]
        if style == "split":
            self.counts.add("constant")
            return [
                f'{i}raw_tbl = {client}.schema("raw").from_(RAW_TABLE)',
                f"{i}raw_id = str(uuid.uuid4())",
                f"{i}raw_tbl.insert(",
                f'{i}    {{"id": raw_id, "workflow_slug": {request}.workflow_slug, "payload": {request}.payload}},',
                f"{i}    upsert=True,",
                f"{i}).execute()",
            ]
        assert style == "sql"
        self.counts.add("sql")
        return [
            f"{i}raw_id = str(uuid.uuid4())",
            f'{i}with psycopg.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cur:',
            f"{i}    cur.execute(",
            f'{i}        """',
            f"{i}        INSERT INTO raw.{ctx['raw']} (id, workflow_slug, provider, payload, received_at)",
            f"{i}        VALUES (%s, %s, %s, %s, now())",
            f"{i}        ON CONFLICT (id) DO NOTHING",
            f'{i}        """,',
            f"{i}        (raw_id, {request}.workflow_slug, PROVIDER, json.dumps({request}.payload)),",
            f"{i}    )",
        ]

    def build_ingest_module(
        self,
        name: str,
        provider: str,
        ext: Extraction,
        kind: str,
        deployed: bool,
        role: str | None = None,
    ) -> None:
        """Writes one ingest module. ``role`` "edit" forces 4 Modal functions (endpoint, bulk
        endpoint, queue worker, scheduled refresh) and a size of EDIT_MODULE_LINES; "largest"
        forces 3 (no bulk endpoint) and LARGEST_MODULE_LINES."""
        rng = self.rng
        s = self.s
        module = self.mod("ingest", name)
        base_fn = f"{name}{s}"
        slug = f"{name.replace('_', '-')}{self.slug_s}"
        raw_table = f"{provider}_{ext.topic}_payloads{s}"
        raw_q = f"raw.{raw_table}"
        ext_q = f"extracted.{ext.table}"
        req_cls = f"{camel(name)}Request"
        app_name = "modal_app" if rng.random() < 0.12 else "app"
        ctx = {"raw": raw_table}
        raw_style = rng.choices(
            ("helper", "literal", "generic", "options", "split", "sql"),
            weights=(55, 12, 12, 6, 10, 5),
        )[0]
        if kind in ("cls", "asgi"):
            raw_style = "helper"
        imports: dict[str, set[str]] = {}

        def need(mod: str, *names: str) -> None:
            imports.setdefault(mod, set()).update(names)

        need(self.db, "get_client")
        if raw_style == "generic":
            need(self.db, "insert_row")
        lg = self.helpers["log_scrape"]
        need(lg.module, "log_scrape", "log_error")
        need(ext.main.module, ext.main.name)
        base_tables: set[str] = {raw_q} | ext.main.tables | {"public.scrape_log"}
        functions: list[list[str]] = []
        # optional actions shared by the main and secondary functions
        actions: list[str] = []
        action_tables: set[str] = set()
        saved_counts = dict(self.counts.sites)
        if rng.random() < 0.2:
            core = rng.choice(
                (
                    "enrich_company_profile",
                    "upsert_core_company",
                    "ensure_person_company",
                    "upsert_target_client",
                )
            )
            h = self.helpers[core]
            need(h.module, core)
            action_tables |= h.tables
            if core == "enrich_company_profile":
                actions += [
                    '        domain = str(request.payload.get("domain") or "")',
                    "        if domain:",
                    "            enrich_company_profile(client, domain, request.payload)",
                ]
            elif core == "upsert_core_company":
                actions += [
                    '        domain = str(request.payload.get("domain") or "")',
                    "        if domain:",
                    '            upsert_core_company(client, domain, {"name": request.payload.get("name")})',
                ]
            elif core == "ensure_person_company":
                actions += [
                    '        person = request.payload.get("person") or {}',
                    '        if person.get("domain"):',
                    '            ensure_person_company(client, person, person["domain"])',
                ]
            else:
                actions += [
                    '        upsert_target_client(client, {"account_id": request.payload.get("account_id")})'
                ]
        if rng.random() < 0.15:
            h = self.helpers["record_run"]
            need(h.module, "record_run")
            action_tables |= h.tables
            actions += ["        record_run(client, request.workflow_slug, raw_id, count)"]
        if rng.random() < 0.08:
            actions += [
                '        client.rpc("merge_company", {"p_domain": request.payload.get("domain")}).execute()'
            ]
        if rng.random() < 0.22:
            latest, history = f"{ext.table}_latest", f"{ext.table}_history"
            actions += [
                f"        for table in ({q(latest)}, {q(history)}):",
                '            client.schema("extracted").from_(table).upsert(',
                '                {"raw_id": raw_id, "workflow_slug": request.workflow_slug,',
                '                 "captured_at": datetime.now(timezone.utc).isoformat()},',
                '                on_conflict="workflow_slug",',
                "            ).execute()",
            ]
            action_tables |= {f"extracted.{latest}", f"extracted.{history}"}
            self.counts.add("loop", 2)
        if rng.random() < 0.25:
            need(self.db, "upsert_rows")
            cursors = f"{provider}_cursors{s}"
            actions += [
                "        upsert_rows(",
                "            client,",
                '            "staging",',
                f"            {q(cursors)},",
                '            [{"provider": PROVIDER, "workflow_slug": request.workflow_slug, "raw_id": raw_id}],',
                '            on_conflict="provider,workflow_slug",',
                "        )",
            ]
            action_tables.add(f"staging.{cursors}")
            self.counts.add("argument")
        if rng.random() < 0.4:
            actions += [
                '        client.schema("raw").from_(RAW_TABLE).update(',
                '            {"extracted_at": datetime.now(timezone.utc).isoformat(), "records": count}',
                '        ).eq("id", raw_id).execute()',
            ]
            self.counts.add("constant")
        if rng.random() < 0.1:
            actions = [
                '        client.schema("extracted").from_(EXTRACTED_TABLE).delete().eq(',
                '            "source_id", request.payload.get("id")',
                "        ).execute()",
            ] + actions
            self.counts.add("constant")
        if kind != "web":
            self.counts.sites = saved_counts
        unresolved = 0
        if kind == "web" and rng.random() < 0.03 and role is None:
            actions += [
                "        if request.target_table:",
                '            client.schema("extracted").from_(request.target_table).upsert(',
                '                {"raw_id": raw_id, "workflow_slug": request.workflow_slug}',
                "            ).execute()",
            ]
            unresolved = 1
            self.counts.add("unresolved")
        if ext.topic == "job_postings" and rng.random() < 0.6:
            for key in ("insert_job_batch", "bulk_insert_job_listings", "record_batch_status"):
                h = self.helpers[key]
                need(h.module, key)
                action_tables |= h.tables
            actions += [
                "        batch_id = str(uuid.uuid4())",
                "        insert_job_batch(batch_id, PROVIDER)",
                '        bulk_insert_job_listings([(item.get("id"), item.get("title")) for item in request.payload.get("items", [])])',
                '        record_batch_status(batch_id, "done")',
            ]
        if ext.topic == "case_studies" and rng.random() < 0.7:
            h = self.helpers["refresh_company_customers"]
            need(h.module, h.name)
            action_tables |= h.tables
            actions += ["        refresh_company_customers()"]
        if ext.topic == "champions" and rng.random() < 0.7:
            h = self.helpers["promote_champions"]
            need(h.module, h.name)
            action_tables |= h.tables
            actions += ["        promote_champions(limit=250)"]
        reads_registry = rng.random() < 0.15
        if reads_registry:
            need(self.helpers["load_workflow"].module, "load_workflow")
        tables_main = base_tables | action_tables | {"public.ingest_errors"}

        raw_lines = self.raw_action(raw_style, ctx, "        ")
        if raw_style == "helper":
            self.counts.add("constant")  # the one write in _store_raw
        ext_call = [f"        count = {ext.main.name}(client, raw_id, request.payload)"]
        deco_secret = rng.choice(
            (
                "[supabase_secret]",
                '[modal.Secret.from_name("supabase-service")]',
                "[supabase_secret, db_secret]",
            )
        )
        timeout = rng.choice((60, 120, 300, 600))
        entries: list[tuple[str, str, str, frozenset[str], list[str], int]] = []
        # (python name, modal name, kind, tables, slugs, unresolved)

        def web_function(fn: str, modal_name: str, old_style: bool, bulk: bool) -> list[str]:
            decorator_args = ["image=image", f"secrets={deco_secret}", f"timeout={timeout}"]
            if modal_name != fn:
                decorator_args.insert(0, f"name={q(modal_name)}")
            web = "web_endpoint" if old_style else "fastapi_endpoint"
            out = [
                f"@{app_name}.function({', '.join(decorator_args)})",
                f'@modal.{web}(method="POST")',
            ]
            if bulk:
                out += [f"def {fn}(batch: {req_cls}Batch) -> dict[str, Any]:"]
            else:
                out += [f"def {fn}(request: {req_cls}) -> dict[str, Any]:"]
            out += docstring(
                rng,
                f"Receives {title_of(ext.topic)} payloads from {provider}.",
                "    ",
                rng.randint(0, 3),
            )
            out += ["    started = time.monotonic()", "    client = get_client()"]
            if bulk:
                out += [
                    "    results = []",
                    "    for request in batch.requests:",
                    "        try:",
                ]
                out += ["    " + line for line in self.raw_action(raw_style, ctx, "        ")]
                out += ["    " + line for line in ext_call]
                out += [
                    "        except Exception as exc:  # noqa: BLE001",
                    f'            logger.exception("{fn} failed for one request")',
                    "            log_error(client, request.workflow_slug, str(exc))",
                    "            continue",
                    '        results.append({"raw_id": raw_id, "records": count})',
                    '    log_scrape(client, WORKFLOW_SLUG, "ok", f"{len(results)} requests")',
                    '    return {"status": "ok", "results": results, "elapsed": round(time.monotonic() - started, 3)}',
                ]
                return out
            out += [f'    logger.info("{fn}: %s payload for %s", PROVIDER, request.workflow_slug)']
            if reads_registry:
                out += [
                    "    workflow = load_workflow(client, request.workflow_slug)",
                    '    if workflow is not None and not workflow.get("is_active", True):',
                    '        raise HTTPException(status_code=409, detail="workflow is inactive")',
                ]
            out += ["    try:"] + raw_lines + ext_call + actions
            out += [
                "    except HTTPException:",
                "        raise",
                "    except Exception as exc:",
                f'        logger.exception("{fn} failed for %s", request.workflow_slug)',
                "        log_error(client, request.workflow_slug, str(exc))",
                "        raise HTTPException(status_code=500, detail=str(exc)) from exc",
                '    log_scrape(client, request.workflow_slug, "ok", f"{count} records")',
                "    return {",
                '        "status": "ok",',
                '        "workflow_slug": request.workflow_slug,',
                '        "raw_id": raw_id,',
                '        "records": count,',
                '        "elapsed": round(time.monotonic() - started, 3),',
                "    }",
            ]
            return out

        def scheduled_function(fn: str) -> list[str]:
            sched = rng.choice(
                (
                    'modal.Cron("0 6 * * *")',
                    'modal.Cron("17 */6 * * *")',
                    "modal.Period(hours=12)",
                    "modal.Period(days=1)",
                    'modal.Cron("30 2 * * 1")',
                )
            )
            out = [
                f"@{app_name}.function(image=image, secrets={deco_secret}, schedule={sched}, "
                f"timeout={max(timeout, 600)})",
                f"def {fn}() -> dict[str, Any]:",
            ]
            out += docstring(
                rng,
                f"Pulls new {title_of(ext.topic)} from {provider} on a schedule.",
                "    ",
                rng.randint(1, 3),
            )
            out += [
                "    client = get_client()",
                "    cursor: str | None = None",
                "    total = 0",
                "    for page in range(MAX_PAGES):",
                "        response = httpx.get(",
                '            f"{BASE_URL}/updates",',
                '            params={"cursor": cursor, "limit": PAGE_SIZE},',
                "            timeout=60,",
                "        )",
                "        response.raise_for_status()",
                "        body = response.json()",
                '        items = body.get("items", [])',
                "        if not items:",
                "            break",
                f'        request = {req_cls}(workflow_slug=WORKFLOW_SLUG, payload={{"items": items}})',
            ]
            out += self.raw_action(
                raw_style if raw_style != "helper" else "helper", ctx, "        "
            )
            out += [
                f"        total += {ext.main.name}(client, raw_id, request.payload)",
                '        cursor = body.get("next_cursor")',
                "        if not cursor:",
                "            break",
                '    log_scrape(client, WORKFLOW_SLUG, "ok", f"{total} records")',
                '    return {"status": "ok", "records": total}',
            ]
            return out

        # the functions of this module ------------------------------------------------------
        has_bulk = False
        slugs_main = [slug]
        if rng.random() < 0.15:
            slugs_main += [
                f"{slug}-{v}"
                for v in rng.sample(("daily", "backfill", "eu", "us", "v2"), rng.randint(1, 2))
            ]
        if kind == "web":
            fn = f"ingest_{base_fn}"
            modal_name = f"{slug}-v2" if rng.random() < 0.1 else fn
            functions.append(web_function(fn, modal_name, rng.random() < 0.15, False))
            entries.append((fn, modal_name, "web", frozenset(tables_main), slugs_main, unresolved))
            if rng.random() < 0.15 or role == "edit":
                has_bulk = True
                bfn = f"ingest_{base_fn}_bulk"
                functions.append(web_function(bfn, bfn, False, True))
                entries.append(
                    (
                        bfn,
                        bfn,
                        "web",
                        frozenset(base_tables | {"public.ingest_errors"}),
                        [f"{slug}-bulk"],
                        0,
                    )
                )
        elif kind == "scheduled":
            fn = f"refresh_{base_fn}"
            functions.append(scheduled_function(fn))
            entries.append((fn, fn, "scheduled", frozenset(base_tables), slugs_main, 0))
        elif kind == "asgi":
            fn = f"{base_fn}_api"
            out = [
                f"@{app_name}.function(image=image, secrets={deco_secret})",
                "@modal.asgi_app()",
                f"def {fn}() -> FastAPI:",
            ]
            out += docstring(
                rng, f"Serves the {provider} webhook as a small FastAPI app.", "    ", 1
            )
            out += [
                f'    web = FastAPI(title="{provider} {title_of(ext.topic)} webhook")',
                "",
                '    @web.post("/ingest")',
                f"    def ingest(request: {req_cls}) -> dict[str, Any]:",
                "        client = get_client()",
                "        raw_id = _store_raw(client, request)",
                f"        count = {ext.main.name}(client, raw_id, request.payload)",
                '        log_scrape(client, request.workflow_slug, "ok")',
                '        return {"raw_id": raw_id, "records": count}',
                "",
                '    @web.get("/health")',
                "    def health() -> dict[str, str]:",
                '        return {"status": "ok"}',
                "",
                "    return web",
            ]
            functions.append(out)
            entries.append((fn, fn, "web", frozenset(base_tables), slugs_main, 0))
        else:  # cls
            cls = f"{camel(name)}{camel(s[1:]) if s else ''}Pipeline"
            out = [
                f"@{app_name}.cls(image=image, secrets={deco_secret}, scaledown_window=300)",
                f"class {cls}:",
            ]
            out += docstring(
                rng,
                f"Keeps one client warm for {provider} {title_of(ext.topic)}.",
                "    ",
                rng.randint(1, 2),
            )
            out += [
                "",
                "    @modal.enter()",
                "    def connect(self) -> None:",
                "        self.client = get_client()",
                "",
                "    @modal.method()",
                "    def ingest(self, payload: dict[str, Any]) -> dict[str, Any]:",
                '        """Stores and extracts one payload."""',
                f"        request = {req_cls}(workflow_slug=WORKFLOW_SLUG, payload=payload)",
                "        raw_id = _store_raw(self.client, request)",
                f"        count = {ext.main.name}(self.client, raw_id, payload)",
                '        return {"raw_id": raw_id, "records": count}',
                "",
                "    @modal.method()",
                "    def reprocess(self, raw_id: str) -> int:",
                '        """Extracts a stored raw row again."""',
                "        row = (",
                '            self.client.schema("raw").from_(RAW_TABLE).select("payload")',
                '            .eq("id", raw_id).single().execute().data',
                "        )",
                f'        count = {ext.main.name}(self.client, raw_id, row["payload"])',
                '        self.client.schema("raw").from_(RAW_TABLE).update(',
                '            {"reprocessed_at": datetime.now(timezone.utc).isoformat()}',
                '        ).eq("id", raw_id).execute()',
                "        return count",
            ]
            self.counts.add("constant")
            functions.append(out)
            t = frozenset({raw_q} | ext.main.tables)
            entries.append((f"{cls}.ingest", f"{cls}.ingest", "web", t, slugs_main, 0))
            entries.append(
                (f"{cls}.reprocess", f"{cls}.reprocess", "worker", t, [f"{slug}-reprocess"], 0)
            )
        # a queue worker the endpoint can spawn
        worker_fn = None
        if kind in ("web", "scheduled") and (rng.random() < 0.3 or role is not None):
            worker_fn = f"process_{base_fn}_batch"
            extf = ext.batch or ext.main
            need(extf.module, extf.name)
            need(self.db, "update_rows")
            out = [
                f"@{app_name}.function(image=image, secrets={deco_secret}, timeout=1800, "
                "retries=modal.Retries(max_retries=3))",
                f"def {worker_fn}(batch_id: str) -> int:",
            ]
            out += docstring(
                rng, "Extracts every unprocessed raw row of one batch.", "    ", rng.randint(0, 2)
            )
            out += [
                "    client = get_client()",
                "    rows = (",
                '        client.schema("raw").from_(RAW_TABLE).select("id, payload")',
                '        .eq("batch_id", batch_id).is_("processed_at", "null").execute().data',
                "    )",
            ]
            if ext.batch:
                out += [f"    done = {extf.name}(client, rows)"]
            else:
                out += [
                    "    done = 0",
                    "    for row in rows:",
                    f'        done += {extf.name}(client, row["id"], row["payload"])',
                ]
            out += [
                "    for row in rows:",
                "        update_rows(",
                "            client,",
                '            "raw",',
                "            RAW_TABLE,",
                '            {"processed_at": datetime.now(timezone.utc).isoformat()},',
                '            {"id": row["id"]},',
                "        )",
                f'    logger.info("{worker_fn}: %d records from %d rows", done, len(rows))',
                "    return done",
            ]
            self.counts.add("argument")
            functions.append(out)
            entries.append(
                (
                    worker_fn,
                    worker_fn,
                    "worker",
                    frozenset({raw_q} | extf.tables),
                    [f"{slug}-worker"],
                    0,
                )
            )
            if kind == "web":
                # the endpoint spawns it: add the spawn to the main function (writes stay with it)
                main = functions[0]
                pos = main.index(
                    '    log_scrape(client, request.workflow_slug, "ok", f"{count} records")'
                )
                main.insert(pos, f"    {worker_fn}.spawn(str(raw_id))")
        if kind == "web" and (rng.random() < 0.12 or role is not None):
            fn = f"refresh_{base_fn}"
            functions.append(scheduled_function(fn))
            entries.append((fn, fn, "scheduled", frozenset(base_tables), [f"{slug}-refresh"], 0))
        if kind == "scheduled" and rng.random() < 0.3:
            h = [self.helpers[k] for k in ("replay_pending_rows", "reset_scratch")]
            for x in h:
                need(x.module, x.name)
            fn = f"maintain_{base_fn}"
            out = [
                f'@{app_name}.function(image=image, secrets=[db_secret], schedule=modal.Cron("0 3 * * *"))',
                f"def {fn}() -> None:",
                '    """Nightly maintenance of the staging tables this workflow uses."""',
                "    replay_pending_rows()",
                "    reset_scratch()",
            ]
            functions.append(out)
            entries.append(
                (
                    fn,
                    fn,
                    "scheduled",
                    frozenset(h[0].tables | h[1].tables),
                    [f"{slug}-maintenance"],
                    0,
                )
            )

        # assemble the module ----------------------------------------------------------------
        lines = self.header(
            f"{provider} → {title_of(ext.topic)} ingest ({title_of(ext.entity)}).",
            rng.randint(1, 4),
        )
        lines += ["", "import modal"]
        if raw_style == "sql":
            lines.append("import psycopg")
        lines += [
            "from fastapi import FastAPI, HTTPException",
            "from pydantic import BaseModel, Field, field_validator",
        ]
        if raw_style == "options":
            lines.append("from supabase import ClientOptions, create_client")
        lines.append("")
        if app_name == "app":
            lines.append("from config import app, db_secret, image, supabase_secret")
        else:
            lines.append("from config import app as modal_app")
            lines.append("from config import db_secret, image, supabase_secret")
        for mod in sorted(imports):
            names = sorted(imports[mod])
            line = f"from {mod} import {', '.join(names)}"
            if len(line) > 100:
                lines += [f"from {mod} import ("] + [f"    {n}," for n in names] + [")"]
            else:
                lines.append(line)
        if rng.random() < 0.4:
            mmod, classes = rng.choice(self.model_modules)
            if classes:
                lines.append(f"from {mmod} import {rng.choice(classes)}")
        lines += [
            "",
            "logger = logging.getLogger(__name__)",
            "",
            f"WORKFLOW_SLUG = {q(slug)}",
            f"PROVIDER = {q(provider)}",
            f"RAW_TABLE = {q(raw_table)}",
            f"EXTRACTED_TABLE = {q(ext.table)}",
            f"BASE_URL = {q('https://api.' + provider.replace('_', '') + '.example.com/v' + str(rng.randint(1, 3)))}",
            f"PAGE_SIZE = {rng.choice((50, 100, 200, 500))}",
            f"MAX_PAGES = {rng.choice((10, 50, 100))}",
            "",
        ]
        lines += dict_block(rng, "FIELD_ALIASES", rng.randint(3, 11))
        if rng.random() < 0.1:
            lines += [""] + sample_payload(rng, "SAMPLE_PAYLOAD", rng.randint(1, 3))
        if rng.random() < 0.15:
            lines += [""] + prompt_block(rng, "CLASSIFY_PROMPT", ext.topic, rng.randint(6, 12))
        extra = ["payload: dict[str, Any] = Field(default_factory=dict)"]
        if unresolved:
            extra.append("target_table: str | None = None")
        lines += ["", ""] + model_class(
            rng, req_cls, rng.randint(2, 7), with_slug=slug, extra=extra
        )
        if has_bulk:
            lines += ["", "", f"class {req_cls}Batch(BaseModel):", f"    requests: list[{req_cls}]"]
        if rng.random() < 0.3:
            lines += ["", ""] + model_class(rng, f"{camel(name)}Response", rng.randint(2, 5))
        if raw_style == "helper" or kind in ("cls", "asgi"):
            lines += [
                "",
                "",
                f"def _store_raw(client: Any, request: {req_cls}) -> str:",
                '    """Stores the request payload verbatim in the raw layer; returns the raw id."""',
                "    row = {",
                '        "workflow_slug": request.workflow_slug,',
                '        "provider": PROVIDER,',
                '        "payload": request.payload,',
                '        "received_at": datetime.now(timezone.utc).isoformat(),',
                "    }",
                '    result = client.schema("raw").from_(RAW_TABLE).insert(row).execute()',
                '    return str(result.data[0]["id"])',
            ]
            if raw_style != "helper":
                self.counts.add("constant")
        self.utils(lines, rng.choice((0, 0, 0, 0, 0, 1, 1)))
        for fn_lines in functions:
            lines += ["", ""] + fn_lines
        target = {"edit": EDIT_MODULE_LINES, "largest": LARGEST_MODULE_LINES}.get(role or "")
        self.emit(module, lines, target=target)
        if role == "edit":
            self.edit_module = self.path_of(module)
        elif role == "largest":
            self.largest_module = self.path_of(module)

        ingest_imports: list[str] = []
        for py_name, modal_name, fkind, tables, slugs, unres in entries:
            top = py_name.split(".")[0]
            if top not in ingest_imports:
                ingest_imports.append(top)
            self.functions.append(
                IngestFn(
                    module=module,
                    name=py_name,
                    kind=fkind,
                    modal_name=modal_name,
                    deployed=deployed,
                    tables=tables,
                    slugs=slugs,
                    provider=provider,
                    entity=ext.entity,
                    raw_table=raw_q,
                    extracted_table=ext_q,
                    unresolved=unres,
                )
            )
        if deployed:
            self.app_imports.append((module, ingest_imports))


# -- the project -----------------------------------------------------------------------------------


def config_py() -> str:
    return "\n".join(
        [
            '"""The Modal app, image and secrets shared by every ingest module."""',
            "",
            "import modal",
            "",
            'app = modal.App("warehouse-ingest")',
            "image = (",
            '    modal.Image.debian_slim(python_version="3.11")',
            '    .pip_install("supabase>=2.4", "pydantic>=2.6", "httpx>=0.27", "psycopg[binary]>=3.1",',
            '                 "psycopg2-binary>=2.9", "fastapi[standard]>=0.110")',
            '    .env({"TZ": "UTC"})',
            ")",
            'supabase_secret = modal.Secret.from_name("supabase-service")',
            'db_secret = modal.Secret.from_name("warehouse-db")',
            "",
        ]
    )


def app_py(units: list[Unit]) -> str:
    lines = [
        '"""Deploy entry point: ``modal deploy app.py`` deploys every function imported here."""',
        "",
        "from config import app  # noqa: F401",
        "",
    ]
    for unit in units:
        for module, names in unit.app_imports:
            line = f"from {module} import {', '.join(names)}  # noqa: F401"
            if len(line) > 100:
                lines += (
                    [f"from {module} import (  # noqa: F401"] + [f"    {n}," for n in names] + [")"]
                )
            else:
                lines.append(line)
    return "\n".join(lines) + "\n"


PYPROJECT = """[project]
name = "warehouse-ingest"
version = "0.0.0"
requires-python = ">=3.11"
description = "Generated benchmark corpus for conformance (bench/gen_corpus.py)."

[tool.conformance]
source_root = "modal-functions/src"
ingest = ["ingest"]
entrypoint = "app.py"
registry = "workflow_registry.yaml"
"""


def registry_yaml(units: list[Unit]) -> tuple[str, int]:
    lines = [
        "# Generated by bench/gen_corpus.py: one entry per workflow slug.",
        "version: 1",
        "workflows:",
    ]
    count = 0
    for unit in units:
        for fn in unit.functions:
            if not fn.deployed:
                continue
            cores = sorted(t for t in fn.tables if t.startswith("core."))
            primary = {
                "company": "core.companies",
                "person": "core.people",
                "target_client": "core.target_clients",
            }[fn.entity]
            core = primary if primary in cores else (cores[0] if cores else None)
            raw = fn.raw_table if fn.raw_table in fn.tables else None
            extracted = fn.extracted_table if fn.extracted_table in fn.tables else None
            for slug in fn.slugs:
                count += 1
                lines += [
                    f"  - workflow_slug: {json.dumps(slug)}",
                    f"    modal_function_name: {json.dumps(fn.modal_name)}",
                    f"    provider: {json.dumps(fn.provider)}",
                    f"    entity_type: {json.dumps(fn.entity)}",
                    f"    raw_table: {json.dumps(raw)}",
                    f"    extracted_table: {json.dumps(extracted)}",
                    f"    core_table: {json.dumps(core)}",
                    f"    coalesces_to_core: {json.dumps(core is not None)}",
                    "    is_active: true",
                    "    writes:",
                ]
                lines += [f"      - {json.dumps(t)}" for t in sorted(fn.tables)]
    return "\n".join(lines) + "\n", count


def generator_digest() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def generate(scale: int, out: Path, seed: int = 1) -> dict:
    """Writes the project for ``scale`` into ``out`` (replacing a previous corpus); returns counts."""
    if out.exists():
        if any(out.iterdir()) and not (out / MANIFEST).exists():
            raise SystemExit(f"refusing to replace {out}: not a generated corpus (no {MANIFEST})")
        shutil.rmtree(out)
    units = []
    for k in range(scale):
        unit = Unit(seed, k)
        unit.build()
        units.append(unit)
    files: list[tuple[str, str]] = [
        ("pyproject.toml", PYPROJECT),
        (f"{SRC}/config.py", config_py()),
        (f"{SRC}/app.py", app_py(units)),
        (f"{SRC}/ingest/__init__.py", ""),
        (f"{SRC}/extraction/__init__.py", ""),
        (f"{SRC}/common/__init__.py", ""),
    ]
    for unit in units:
        files += unit.files
    registry, n_entries = registry_yaml(units)
    files.append(("workflow_registry.yaml", registry))
    dirs = {str(Path(p).parent) for p, _ in files}
    for d in sorted(dirs):
        (out / d).mkdir(parents=True, exist_ok=True)
    py_files = py_lines = 0
    sizes: dict[str, int] = {}
    for path, text in files:
        (out / path).write_text(text, encoding="utf-8")
        if path.endswith(".py"):
            py_files += 1
            py_lines += text.count("\n")
            sizes[path] = text.count("\n")
    functions = [f for u in units for f in u.functions]
    # the largest ingest module; on a tie the first generated (unit 0 before unit 1, ...)
    largest = max(
        (p for p in sizes if p.startswith(f"{SRC}/ingest/") and not p.endswith("__init__.py")),
        key=sizes.__getitem__,
    )

    def module_info(path: str) -> dict:
        dotted = path[len(SRC) + 1 : -len(".py")].replace("/", ".")
        return {
            "path": path,
            "lines": sizes[path],
            "functions": sum(1 for f in functions if f.module == dotted),
        }

    sites: dict[str, int] = {}
    for unit in units:
        for via, n in unit.counts.sites.items():
            sites[via] = sites.get(via, 0) + n
    kinds: dict[str, int] = {}
    for f in functions:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "generator_digest": generator_digest(),
        "seed": seed,
        "scale": scale,
        "py_files": py_files,
        "py_lines": py_lines,
        "py_bytes": sum(len(t.encode()) for p, t in files if p.endswith(".py")),
        "ingest_modules": sum(
            1 for p, _ in files if "/ingest/" in p and not p.endswith("__init__.py")
        ),
        "ingest_functions": len(functions),
        "deployed_functions": sum(1 for f in functions if f.deployed),
        "function_kinds": dict(sorted(kinds.items())),
        "cls_methods": sum(1 for f in functions if "." in f.name),
        "write_sites": sum(n for via, n in sites.items() if via != "unresolved"),
        "write_sites_by_via": dict(sorted(sites.items())),
        "function_table_pairs": sum(len(f.tables) for f in functions),
        "distinct_tables": len({t for f in functions for t in f.tables}),
        "registry_entries": n_entries,
        "py_line_stats": size_stats(list(sizes.values())),
        "largest_py_file": max(sizes, key=sizes.__getitem__),
        "edit_module": module_info(units[0].edit_module),
        "largest_ingest_module": module_info(largest),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


PROJECT_PACKAGES = ("config", "common", "extraction", "ingest")


def _module_name(src: Path, path: Path) -> str:
    mod = path.relative_to(src).with_suffix("").as_posix().replace("/", ".")
    return mod[: -len(".__init__")] if mod.endswith(".__init__") else mod


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _decorator_attr(node: ast.expr) -> str | None:
    func = node.func if isinstance(node, ast.Call) else node
    return func.attr if isinstance(func, ast.Attribute) else None


def _modal_functions(tree: ast.Module) -> dict[str, str]:
    """Returns {deployed name: python name} of the Modal functions and methods in ``tree``."""
    found: dict[str, str] = {}
    for node in tree.body:
        decorators = getattr(node, "decorator_list", [])
        if isinstance(node, ast.FunctionDef) and any(
            _decorator_attr(d) == "function" for d in decorators
        ):
            modal_name = node.name
            for d in decorators:
                if isinstance(d, ast.Call) and _decorator_attr(d) == "function":
                    for kw in d.keywords:
                        if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                            modal_name = str(kw.value.value)
            found[modal_name] = node.name
        elif isinstance(node, ast.ClassDef) and any(
            _decorator_attr(d) == "cls" for d in decorators
        ):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and any(
                    _decorator_attr(d) == "method" for d in item.decorator_list
                ):
                    found[f"{node.name}.{item.name}"] = f"{node.name}.{item.name}"
    return found


def check(out: Path) -> list[str]:
    """Parses every generated ``.py`` file with ``ast`` and checks the corpus against its manifest.

    Returns the problems found (empty when the corpus is sound): files that do not parse, counts
    or file-size statistics that differ from the manifest, project imports that name a missing
    module or name, registry entries that name no generated function, and modules for the
    one-file rows that are not what the manifest says (the edited module must hold 4 Modal
    functions, the largest ingest module must be the longest one).
    """
    problems: list[str] = []
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    src = out / SRC
    # one pass, keeping only names (the trees of scale 50 would need ~2 GB)
    defined: dict[str, set[str]] = {}
    imports: list[tuple[str, str, str]] = []
    functions: dict[str, str] = {}  # deployed (modal) name -> python name
    files = lines = 0
    sizes: dict[str, int] = {}  # path relative to ``out`` -> lines
    module_functions: dict[str, int] = {}  # ingest module path -> Modal functions in it
    for path in sorted(src.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        mod = _module_name(src, path)
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:
            problems.append(f"{path}: {exc}")
            continue
        files += 1
        lines += text.count("\n")
        rel = path.relative_to(out).as_posix()
        sizes[rel] = text.count("\n")
        defined[mod] = _top_level_names(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.split(".")[0] in PROJECT_PACKAGES
            ):
                imports.extend((mod, node.module, alias.name) for alias in node.names)
        if mod.startswith("ingest."):
            found = _modal_functions(tree)
            functions.update(found)
            module_functions[rel] = len(found)
    for mod, target, name in imports:
        if target not in defined:
            problems.append(f"{mod}: imports missing module {target}")
        elif name not in defined[target] and f"{target}.{name}" not in defined:
            problems.append(f"{mod}: imports missing name {target}.{name}")
    expected = {"py_files": files, "py_lines": lines, "ingest_functions": len(functions)}
    expected["py_line_stats"] = size_stats(list(sizes.values()))
    for key, value in expected.items():
        if manifest.get(key) != value:
            problems.append(f"manifest {key} = {manifest.get(key)}, corpus has {value}")
    for key, want in (("edit_module", 4), ("largest_ingest_module", None)):
        info = manifest.get(key) or {}
        path = info.get("path")
        if path not in module_functions:
            problems.append(f"manifest {key} names no ingest module ({path})")
            continue
        if sizes[path] != info.get("lines") or module_functions[path] != info.get("functions"):
            problems.append(
                f"{path}: {sizes[path]} lines and {module_functions[path]} Modal functions, "
                f"manifest {key} says {info.get('lines')} and {info.get('functions')}"
            )
        if want is not None and module_functions[path] != want:
            problems.append(
                f"{key} {path} holds {module_functions[path]} Modal functions, not {want}"
            )
    longest = max((sizes[p] for p in module_functions), default=0)
    largest = (manifest.get("largest_ingest_module") or {}).get("path")
    if largest in sizes and sizes[largest] != longest:
        problems.append(
            f"largest_ingest_module {largest} has {sizes[largest]} lines, not {longest}"
        )
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency of conformance
        yaml = None
    if yaml is not None:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        registry = yaml.load((out / "workflow_registry.yaml").read_text(encoding="utf-8"), loader)
        entries = registry["workflows"]
        if len(entries) != manifest["registry_entries"]:
            problems.append(
                f"registry has {len(entries)} entries, manifest says {manifest['registry_entries']}"
            )
        slugs = [e["workflow_slug"] for e in entries]
        if len(set(slugs)) != len(slugs):
            problems.append("registry has duplicate workflow slugs")
        for entry in entries:
            if entry["modal_function_name"] not in functions:
                problems.append(
                    f"registry entry {entry['workflow_slug']} names no generated function "
                    f"({entry['modal_function_name']})"
                )
    return problems


def describe_sizes(manifest: dict) -> str:
    """One line with the file-size statistics of a manifest."""
    st = manifest["py_line_stats"]
    edit, big = manifest["edit_module"], manifest["largest_ingest_module"]
    return (
        f"sizes: {manifest['py_files']:,} .py files, {st['total']:,} lines; per file median "
        f"{st['median']:g}, p90 {st['p90']:,}, max {st['max']:,} ({manifest['largest_py_file']}); "
        f"one-file rows edit {edit['path']} ({edit['lines']} lines, {edit['functions']} Modal "
        f"functions) and {big['path']} ({big['lines']} lines, {big['functions']})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1, help="number of corpus units (default 1)")
    parser.add_argument("--out", type=Path, help="output directory (default bench/corpus/xN)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--check",
        action="store_true",
        help="then parse every file with ast and check the counts and imports",
    )
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be >= 1")
    out = args.out or Path(__file__).resolve().parent / "corpus" / f"x{args.scale}"
    started = time.perf_counter()
    manifest = generate(args.scale, out, args.seed)
    elapsed = time.perf_counter() - started
    print(f"wrote {out} in {elapsed:.2f} s")
    print(json.dumps(manifest, indent=2))
    print(describe_sizes(manifest))
    if args.check:
        started = time.perf_counter()
        problems = check(out)
        for problem in problems[:50]:
            print(f"problem: {problem}")
        verdict = f"{len(problems)} problems" if problems else "all files parse, counts match"
        print(f"check: {verdict} ({time.perf_counter() - started:.2f} s)")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
