"""The library API every surface calls (CLI, pytest plugin, pre-commit hook).

Layered by input: a project directory → :class:`Config` → :class:`Analysis` → findings against a
:class:`Registry`. Nothing here prints or exits; failures are :class:`ConformanceError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.config import DEFAULT_REGISTRY_FILE, Config, load_config
from conformance.errors import ConformanceError
from conformance.model import Analysis, Finding, Registry
from conformance.sources import (
    ALLOW_SETTINGS_DSN_ENV,
    RegistrySource,
    check_project_path,
    parse_source,
)


@dataclass(frozen=True)
class CheckResult:
    config: Config
    analysis: Analysis
    registry: Registry
    findings: tuple[Finding, ...]

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


# where scan() hands each notice of an analysis (e.g. that the cache was not used): nowhere,
# unless the program using the library asks (the executable prints them on stderr)
_notice_handler: Callable[[str], None] | None = None


def on_notice(handler: Callable[[str], None] | None) -> None:
    """Makes :func:`scan` call ``handler`` with each of an analysis' notices (None: stop)."""
    global _notice_handler
    _notice_handler = handler


def scan(
    project: Path | str = ".", *, use_cache: bool = True, jobs: int | None = None, **overrides: Any
) -> tuple[Config, Analysis]:
    """Returns the config and the analysis of ``project``; raises ConformanceError for bad
    settings. Bad source files are part of the analysis, never an exception. What the run has
    to tell its user is in ``analysis.notices`` (also handed to :func:`on_notice`'s handler)."""
    config = load_config(project, **overrides)
    from conformance.analysis.project import analyze_project

    analysis = analyze_project(config, use_cache=use_cache, jobs=jobs)
    if _notice_handler is not None:
        for notice in analysis.notices:
            _notice_handler(notice)
    return config, analysis


def registry_source(
    config: Config, given: str | None = None, *, offline: bool = False, base: Path | None = None
) -> RegistrySource:
    """Returns where to read the registry: ``given`` (chosen by the operator: a file relative to
    ``base``, by default the working directory; a DSN; or ``env``), else the project's
    ``registry`` setting (a file relative to the project, or ``env``).

    A DSN written in the project's settings is refused unless the operator sets
    $CONFORMANCE_ALLOW_SETTINGS_DSN=1: a pull request can change those settings, and the check
    would hand the runner's credentials (PGPASSWORD, a wildcard .pgpass) to its host. With
    ``offline`` every database source is refused. Raises ConformanceError; never connects.
    """
    if given is not None:
        source = parse_source(given, "command line", base=base)
    else:
        source = parse_source(
            config.registry or DEFAULT_REGISTRY_FILE, "settings", base=config.project_dir
        )
        if source.is_dsn and source.origin == "settings" and not _settings_dsn_allowed():
            raise ConformanceError(
                "[tool.conformance] registry names a database (not shown); a DSN written in the "
                "project's settings is used only when the operator allows it: pass --registry "
                f"DSN or --registry env, or set {ALLOW_SETTINGS_DSN_ENV}=1"
            )
        if not source.is_dsn:
            check_project_path(
                Path(source.value), config.project_dir, "read the registry file", writing=False
            )
    if offline and source.is_dsn:
        raise ConformanceError(
            f"--offline reads the registry file and never connects, but the registry is a "
            f"database ({source.label}, from the {source.origin}): pass --registry PATH"
        )
    return source


def _settings_dsn_allowed() -> bool:
    return os.environ.get(ALLOW_SETTINGS_DSN_ENV, "").strip().lower() in ("1", "true", "yes")


def load_registry(
    config: Config, source: RegistrySource | None = None, use_cache: bool = True
) -> Registry:
    """Returns the registry from ``source`` (see :func:`registry_source`), else the configured
    one. Raises ConformanceError when it cannot be read."""
    source = source or registry_source(config)
    if source.is_dsn:
        from conformance.registry.postgres import Timeouts, load_registry_db

        timeouts = Timeouts(config.connect_timeout, config.statement_timeout)
        return load_registry_db(
            source.value, config.table, entity_types=config.entity_types, timeouts=timeouts
        )
    path = Path(source.value)
    if not path.exists():
        raise ConformanceError(
            f"registry file not found: {path} (run `conformance register "
            f"--all` to create it, or pass --registry)"
        )
    return _load_registry_file(config, path, use_cache)


def _load_registry_file(config: Config, path: Path, use_cache: bool) -> Registry:
    """Loads a registry file, through the cache: an unchanged file is one decoding, with no
    YAML parser or JSON Schema validator loaded."""
    from conformance import cache
    from conformance.fileio import MAX_REGISTRY_BYTES, read_regular

    # the analysis has reported a cache it may not use; here it is only not used
    root = cache.locate(config.project_dir).root if use_cache else None
    key = ""
    if root is not None:
        try:
            data = read_regular(path, MAX_REGISTRY_BYTES)
        except OSError:
            data = b""  # the loader says why
        if data:
            key = cache.digest(
                b"registry", str(path).encode(), "\0".join(config.entity_types).encode(), data
            )
            cached = cache.load(root, key, Registry)
            if cached is not None:
                return cached
    from conformance.registry.file import load_registry_file

    registry = load_registry_file(path, entity_types=config.entity_types)
    if root is not None and key:
        cache.store(root, key, registry)
    return registry


def check(
    project: Path | str = ".",
    *,
    registry: str | None = None,
    use_cache: bool = True,
    jobs: int | None = None,
    **overrides: Any,
) -> CheckResult:
    """Returns the findings of ``project`` against its registry."""
    config, analysis = scan(project, use_cache=use_cache, jobs=jobs, **overrides)
    reg = load_registry(config, registry_source(config, registry), use_cache)
    from conformance.rules import evaluate

    return CheckResult(config, analysis, reg, evaluate(analysis, reg, config))
