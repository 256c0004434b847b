"""Where things come from: the registry source, which source files are excluded, and keeping a
DSN's password out of everything shown.

A registry source is a file path, a PostgreSQL DSN, or ``env`` (the DSN in $CONFORMANCE_DSN).
:func:`parse_source` decides which; anything that looks like a connection string is a DSN or an
error, never a file path, and no error repeats it (it may hold a password). :func:`redact_dsn`
masks the password of one DSN; :func:`redact_text` masks every password-shaped part of free text
(error messages, click's usage errors) and the passwords of the DSNs the process was given.

This module is the one copy of that vocabulary: the CLI, the API, the pytest plugin and the
database module all use it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from urllib.parse import unquote

from conformance.errors import ConformanceError

ENV_SOURCE = "env"
DSN_ENV = "CONFORMANCE_DSN"
# An operator may let a DSN written in the project's own settings be used (a pull request can
# change those settings, so by default it is refused: see README "Security").
ALLOW_SETTINGS_DSN_ENV = "CONFORMANCE_ALLOW_SETTINGS_DSN"
MASK = "***"

# libpq's connection keywords: ``host=db dbname=app`` is a DSN, not a file name
LIBPQ_KEYWORDS = frozenset(
    (
        *("host", "hostaddr", "port", "dbname", "user", "password", "passfile", "service"),
        *("require_auth", "channel_binding", "connect_timeout", "client_encoding", "options"),
        *("application_name", "fallback_application_name", "replication", "gssencmode"),
        *("keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"),
        *("tcp_user_timeout", "sslmode", "requiressl", "sslnegotiation", "sslcompression"),
        *("sslcert", "sslkey", "sslkeylogfile", "sslpassword", "sslcertmode", "sslrootcert"),
        *("sslcrl", "sslcrldir", "sslsni", "requirepeer", "ssl_min_protocol_version"),
        *("ssl_max_protocol_version", "min_protocol_version", "max_protocol_version"),
        *("krbsrvname", "gsslib", "gssdelegation", "target_session_attrs", "load_balance_hosts"),
    )
)
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.\-]*):(//)?")
_KEYWORD = re.compile(r"^\s*([A-Za-z_]+)\s*=")
_POSTGRES_SCHEMES = ("postgresql", "postgres")

_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*:(?://)?)(?P<rest>.*)$", re.S)
_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&#;]*)", re.I | re.S)
_QUERY_PASSWORD = re.compile(r"([?&;]password=)([^&#\s]*)", re.I)
# in free text: ``scheme://user:password@`` (password up to the token's last "@")
_TEXT_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*:)([^\s'\"]*)@")


def is_excluded(path: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Returns whether a source-root-relative POSIX ``path`` matches any ``exclude`` pattern.

    ``*`` crosses ``/``; ``dir/**``, ``**/name.py`` and a plain directory prefix also match.
    Discovery skips such files and the rules drop findings located in them: one meaning.
    """
    return matches(path, patterns)


def matches(path: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Returns whether a source-root-relative POSIX ``path`` matches any pattern: a file, a
    directory (everything under it), or a glob whose ``*`` crosses ``/`` (``exclude``,
    ``ingest`` and ``entrypoints`` all mean this); ``.`` matches every path."""
    for raw in patterns:
        if raw.strip() in (".", "./"):
            return True
        pat = raw.strip().removeprefix("./")
        if not pat:
            continue
        if fnmatchcase(path, pat) or path.startswith(pat.rstrip("/") + "/"):
            return True
        if pat.startswith("**/") and fnmatchcase(path, pat[3:]):
            return True
    return False


@dataclass(frozen=True)
class RegistrySource:
    """Where to read the registry: a ``file`` (an absolute path) or a ``dsn`` for libpq.

    ``label`` names it in messages (a DSN with its password masked); ``origin`` says who chose
    it: ``command line``, ``environment`` or ``settings``.
    """

    kind: str
    value: str
    label: str
    origin: str

    @property
    def is_dsn(self) -> bool:
        return self.kind == "dsn"


def looks_like_dsn(text: str) -> bool:
    """Returns whether ``text`` is shaped like a connection string (URL or libpq keywords) rather
    than a file path; such text is never used or shown as a path."""
    if _SCHEME.match(text) and ("://" in text or text.lower().startswith("jdbc:")):
        return True
    keyword = _KEYWORD.match(text)
    return keyword is not None and keyword.group(1).lower() in LIBPQ_KEYWORDS


def dsn_for_libpq(text: str) -> str:
    """Returns the DSN libpq accepts for a connection string ``text``.

    ``postgresql://``/``postgres://`` in any case and SQLAlchemy's ``postgresql+driver://`` are
    URLs (the scheme is normalised); ``key=value`` strings are kept. Raises ConformanceError,
    without repeating ``text``, for JDBC URLs, other schemes, and a URL whose password holds a
    character that must be percent-encoded (libpq would split it and print the rest).
    """
    scheme = _SCHEME.match(text)
    if scheme is None or "://" not in text and not text.lower().startswith("jdbc:"):
        keyword = _KEYWORD.match(text)
        if keyword is not None and keyword.group(1).lower() in LIBPQ_KEYWORDS:
            return text.strip()
        raise ConformanceError(
            "not a PostgreSQL connection string (not shown: it may hold a password)"
        )
    name = scheme.group(1).lower()
    if name == "jdbc":
        raise ConformanceError(
            "JDBC URLs are not supported (not shown: it may hold a password); write it as "
            "postgresql://USER:PASSWORD@HOST:PORT/DBNAME"
        )
    base = name.split("+", 1)[0]
    if base not in _POSTGRES_SCHEMES:
        raise ConformanceError(
            f"unsupported connection scheme {_short_scheme(name)}:// (the rest is not shown: it "
            "may hold a password); use postgresql://"
        )
    rest = text.strip()[scheme.end() :]
    _check_userinfo(rest)
    return "postgresql://" + rest


def _short_scheme(name: str) -> str:
    return name if len(name) <= 24 else name[:21] + "..."


def _check_userinfo(rest: str) -> None:
    """Refuses a URL whose userinfo holds an unencoded ``@``, ``/``, ``?`` or ``#``: libpq would
    read part of the password as the host or the database, and name it in its error."""
    at = rest.rfind("@", 0, _first(rest, "?#"))
    if at < 0:
        return
    userinfo = rest[:at]
    for char, code in (("@", "%40"), ("/", "%2F"), ("?", "%3F"), ("#", "%23")):
        if char in userinfo:
            raise ConformanceError(
                f"the connection URL's user or password holds an unencoded {char!r} "
                f"(percent-encode it as {code}); not shown: it holds a password"
            )


def _first(text: str, chars: str) -> int:
    found = [i for i in (text.find(c) for c in chars) if i >= 0]
    return min(found) if found else len(text)


def parse_source(text: str, origin: str, base: Path | None = None) -> RegistrySource:
    """Returns the registry source ``text`` names.

    ``env`` reads the DSN from $CONFORMANCE_DSN; a connection string is a DSN (see
    :func:`dsn_for_libpq`); anything else is a file path, relative to ``base`` (the project for
    settings, the working directory on the command line). Raises ConformanceError without
    repeating a connection string.
    """
    if text.strip() == ENV_SOURCE:
        dsn = os.environ.get(DSN_ENV, "")
        if not dsn.strip():
            raise ConformanceError(f"the registry is `env`, but ${DSN_ENV} is not set")
        value = dsn_for_libpq(dsn)
        return RegistrySource("dsn", value, redact_dsn(value), "environment")
    if looks_like_dsn(text):
        value = dsn_for_libpq(text)
        return RegistrySource("dsn", value, redact_dsn(value), origin)
    path = Path(text)
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return RegistrySource("file", str(path), str(path), origin)


def redact_dsn(dsn: str) -> str:
    """Returns ``dsn`` with any password replaced by ``***`` (URL or ``key=value`` form)."""
    match = _URL.match(dsn)
    if not match or "//" not in match.group("scheme") and not dsn.lower().startswith("jdbc:"):
        return _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, dsn)
    rest = _QUERY_PASSWORD.sub(lambda m: m.group(1) + MASK, match.group("rest"))
    if match.group("scheme").lower() == "jdbc:":
        return match.group("scheme") + redact_dsn(rest)
    at = rest.rfind("@", 0, _first(rest, "?#"))
    if at >= 0:
        userinfo, host = rest[:at], rest[at + 1 :]
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        rest = f"{userinfo}@{host}"
    return match.group("scheme") + rest


def dsn_secrets(dsn: str) -> list[str]:
    """Returns every form the DSN's password can take in an error text (raw and decoded), and
    $PGPASSWORD, longest first."""
    found: list[str] = []
    match = _URL.match(dsn)
    if match and "//" in match.group("scheme"):
        rest = match.group("rest")
        at = rest.rfind("@", 0, _first(rest, "?#"))
        if at >= 0 and ":" in rest[:at]:
            found.append(rest[:at].split(":", 1)[1])
        found.extend(m.group(2) for m in _QUERY_PASSWORD.finditer(rest))
    else:
        for m in _KV_PASSWORD.finditer(dsn):
            value = m.group(2)
            found.append(value)
            if value.startswith("'"):
                inner = value[1:-1] if len(value) > 1 and value.endswith("'") else value[1:]
                found.append(re.sub(r"\\(.)", r"\1", inner, flags=re.S))
    found.extend([unquote(s) for s in found])
    if os.environ.get("PGPASSWORD"):
        found.append(os.environ["PGPASSWORD"])
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub(text: str, dsn: str) -> str:
    """Returns ``text`` on one line with ``dsn`` and every form of its password masked."""
    text = text.replace(dsn, redact_dsn(dsn))
    for secret in dsn_secrets(dsn):
        text = text.replace(secret, MASK)
    return redact_text(" ".join(part.strip() for part in text.splitlines() if part.strip()))


def redact_text(text: str) -> str:
    """Returns free text with every password it may carry masked: ``scheme://user:pw@`` of any
    scheme, ``password=...`` (libpq keywords, URL queries), and the password of $CONFORMANCE_DSN
    and $PGPASSWORD wherever they appear."""
    text = _TEXT_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    text = _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    text = _QUERY_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    env = os.environ.get(DSN_ENV)
    secrets = dsn_secrets(env) if env else []
    if os.environ.get("PGPASSWORD"):
        secrets.append(os.environ["PGPASSWORD"])
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 3:  # a one- or two-character password would mask ordinary words
            text = text.replace(secret, MASK)
    return text


def check_project_path(path: Path, project: Path, doing: str, *, writing: bool) -> None:
    """Raises ConformanceError unless ``path`` stays inside ``project``.

    For files named by the project's settings, which a pull request can change: reading, the
    file (symbolic links resolved) must lie inside the project; writing, no symbolic link may
    be on the way at all (a committed dangling link would make the tool create its target).
    A path given on the command line is the operator's choice and is not checked.
    """
    absolute = Path(os.path.abspath(path))
    root = Path(os.path.realpath(project))
    hint = "pass the path on the command line to use it"
    inside = _inside(Path(os.path.realpath(absolute)), root)
    if not inside or not _inside(absolute, Path(os.path.abspath(project))):
        raise ConformanceError(
            f"refusing to {doing} {absolute}: the project's settings name a file outside the "
            f"project ({root}); {hint}"
        )
    if not writing:
        return
    current = Path(os.path.abspath(project))
    for part in absolute.relative_to(current).parts:
        current = current / part
        if current.is_symlink():
            raise ConformanceError(
                f"refusing to {doing} {absolute}: {current} is a symbolic link; {hint}"
            )


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True
