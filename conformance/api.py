"""The library API every surface calls (CLI, pytest plugin, pre-commit hook).

Layered by input: a project directory → :class:`Config` → :class:`Analysis` → findings against a
:class:`Registry`. Nothing here prints or exits; failures are :class:`ConformanceError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.config import Config, is_dsn, load_config
from conformance.errors import ConformanceError
from conformance.model import Analysis, Finding, Registry


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


def load_registry(config: Config, source: str | None = None, use_cache: bool = True) -> Registry:
    """Returns the registry from ``source`` (a DSN, or a file path: relative paths are relative to
    the project), else the configured one."""
    source = source or config.registry_source
    if is_dsn(source):
        from conformance.registry.postgres import load_registry_db

        return load_registry_db(source, table=config.table)
    path = Path(source)
    if not path.is_absolute():
        path = config.project_dir / path
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

    # the analysis has reported a cache it may not use; here it is only not used
    root = cache.locate(config.project_dir).root if use_cache else None
    key = ""
    if root is not None:
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
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
    reg = load_registry(config, registry, use_cache)
    from conformance.compare import compare

    return CheckResult(config, analysis, reg, compare(analysis, reg, config))
