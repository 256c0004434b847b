"""``[tool.conformance]`` in the project's pyproject.toml → a validated :class:`Config`.

Raw settings (a dict from TOML, then command-line overrides) are kept apart from the validated,
resolved ``Config`` the rest of the tool uses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.errors import ConformanceError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

DEFAULT_ENTITY_TYPES = ("company", "person", "target_client")
# what an active registry entry must hold to be complete (CONF020)
DEFAULT_REQUIRED_COLUMNS = ("provider", "platform", "payload_type", "entity_type")
DEFAULT_REGISTRY_FILE = "workflow_registry.yaml"
DEFAULT_TABLE = "reference.enrichment_workflow_registry"
DEFAULT_MIGRATIONS = ("supabase/migrations/*.sql",)
# settings whose TOML arrays are tuples in Config
LIST_SETTINGS = (
    "ingest",
    "exclude",
    "entity_types",
    "required_columns",
    "migrations",
    "entrypoints",
)
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


@dataclass(frozen=True)
class Config:
    """Validated settings, with every path absolute."""

    project_dir: Path
    source_root: Path
    # directories, files or globs under the source root ("." is all of it)
    ingest: tuple[str, ...] = ("ingest",)
    entrypoint: str | None = "app.py"
    # more deploy entry points (files or globs), each deploying the App(s) it names
    entrypoints: tuple[str, ...] = ()
    # False when the settings name no entry point and app.py is only the default: then a
    # project without one is not told that its setting matches nothing
    entrypoint_configured: bool = True
    # where each setting is in pyproject.toml (key, line): for findings about the settings
    setting_lines: tuple[tuple[str, int], ...] = field(default=(), compare=False)
    registry: str | None = None
    workspace: str | None = None
    app_name: str | None = None
    exclude: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    entity_types: tuple[str, ...] = DEFAULT_ENTITY_TYPES
    required_columns: tuple[str, ...] = DEFAULT_REQUIRED_COLUMNS
    table: str = DEFAULT_TABLE
    connect_timeout: float = 5.0
    statement_timeout: float = 10.0
    # SQL files (globs relative to the project) whose CREATE FUNCTION bodies say what a
    # database function called with .rpc() writes
    migrations: tuple[str, ...] = DEFAULT_MIGRATIONS

    def analysis_key(self) -> str:
        """Returns a string of every setting that changes per-file analysis (for the cache)."""
        # relative, so a copy of the project elsewhere (the git hook checks a snapshot of the
        # staged files in a temporary directory) still finds its cache entries
        try:
            root = self.source_root.relative_to(self.project_dir).as_posix()
        except ValueError:
            root = str(self.source_root)
        return json.dumps(
            [root, self.ingest, self.entry_points(), sorted(self.exclude), self.migrations]
        )

    def entry_points(self) -> tuple[str, ...]:
        """The deploy entry points: ``entrypoint`` (unless null) and ``entrypoints``."""
        first = (self.entrypoint,) if self.entrypoint else ()
        return tuple(dict.fromkeys((*first, *self.entrypoints)))


def load_schema(name: str) -> dict[str, Any]:
    """Returns one of the bundled JSON Schemas by file name."""
    with open(SCHEMA_DIR / name, encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def read_raw_settings(project_dir: Path) -> dict[str, Any]:
    """Returns ``[tool.conformance]`` from ``project_dir/pyproject.toml`` ({} when absent).

    Raises ConformanceError for unreadable TOML.
    """
    path = project_dir / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConformanceError(f"cannot read: {exc}", f"{path}:1") from None
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_toml_error(str(exc))
        raise ConformanceError(f"invalid TOML: {exc}", f"{path}:{line}") from None
    tool = data.get("tool", {})
    settings = tool.get("conformance", {}) if isinstance(tool, dict) else {}
    if not isinstance(settings, dict):
        raise ConformanceError("[tool.conformance] must be a table", f"{path}:1")
    return settings


def _line_from_toml_error(text: str) -> int:
    marker = "(at line "
    if marker in text:
        digits = text.split(marker, 1)[1].split(",", 1)[0]
        if digits.isdigit():
            return int(digits)
    return 1


def validate_settings(settings: dict[str, Any], where: str) -> None:
    """Raises ConformanceError naming the first setting that breaks the config schema, at its
    line in ``where`` (``path:line``) when it can be found."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_schema("config.schema.json"))
    errors = sorted(validator.iter_errors(settings), key=lambda e: [str(p) for p in e.path])
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.path) or "(top level)"
        path, _, _line = where.rpartition(":")
        line = _setting_line(Path(path), str(err.path[0])) if err.path else None
        raise ConformanceError(
            f"[tool.conformance] {key}: {err.message}", f"{path}:{line}" if line else where
        )


def _setting_line(path: Path, key: str) -> int | None:
    """The line of ``key = ...`` in the ``[tool.conformance]`` table of a pyproject.toml."""
    return _setting_lines(path).get(key)


def _setting_lines(path: Path) -> dict[str, int]:
    """The line of each ``key = ...`` in the ``[tool.conformance]`` table of a pyproject.toml
    (first occurrence; {} when it cannot be read)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    inside = False
    found: dict[str, int] = {}
    for number, text in enumerate(lines, 1):
        stripped = text.strip()
        if stripped.startswith("["):
            inside = stripped.replace(" ", "").startswith("[tool.conformance")
        elif inside and "=" in stripped and not stripped.startswith("#"):
            found.setdefault(stripped.split("=", 1)[0].strip().strip('"'), number)
    return found


def load_config(
    project_dir: Path | str = ".",
    *,
    validate: Callable[[dict[str, Any], str], None] = validate_settings,
    **overrides: Any,
) -> Config:
    """Returns the validated Config for ``project_dir``; ``overrides`` (not None) win.

    Without settings, ``PROJECT/modal-functions/src`` is the source root when it exists.
    ``validate`` checks the merged settings (the API passes one that remembers settings it
    checked before, so a run whose settings did not change never loads the validator).
    Raises ConformanceError for invalid settings or a missing source root.
    """
    project = Path(project_dir).resolve()
    if not project.is_dir():
        raise ConformanceError(f"project directory not found: {project_dir}")
    settings = read_raw_settings(project)
    severity = overrides.pop("severity", None)
    if overrides.get("entrypoint") is not None:  # --entrypoint replaces both settings
        settings.pop("entrypoints", None)
    settings.update({k: v for k, v in overrides.items() if v is not None and v != ()})
    if severity:
        settings["severity"] = {**settings.get("severity", {}), **severity}
    for key in LIST_SETTINGS:
        if isinstance(settings.get(key), tuple):
            settings[key] = list(settings[key])
    validate(settings, f"{project / 'pyproject.toml'}:1")
    for pattern in settings.get("migrations", ()):
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            pyproject = project / "pyproject.toml"
            line = _setting_line(pyproject, "migrations") or 1
            raise ConformanceError(
                f"[tool.conformance] migrations: {pattern!r} must be a path or glob inside "
                "the project",
                f"{pyproject}:{line}",
            )
    if "source_root" in settings:
        source_root = (project / settings["source_root"]).resolve()
    elif (project / "modal-functions" / "src").is_dir():
        source_root = (project / "modal-functions" / "src").resolve()
    else:
        source_root = project
    if not source_root.is_dir():
        raise ConformanceError(f"source root not found: {source_root}")
    values: dict[str, Any] = {
        k: settings[k]
        for k in (
            "entrypoint",
            "registry",
            "workspace",
            "app_name",
            "table",
            "connect_timeout",
            "statement_timeout",
        )
        if k in settings
    }
    values.update({k: tuple(settings[k]) for k in LIST_SETTINGS if k in settings})
    if "entrypoints" in settings and "entrypoint" not in settings:
        values["entrypoint"] = None  # the list names them all: app.py is no longer implied
    values["entrypoint_configured"] = "entrypoint" in settings or "entrypoints" in settings
    cfg = Config(
        project_dir=project,
        source_root=source_root,
        severity=dict(settings.get("severity", {})),
        setting_lines=tuple(sorted(_setting_lines(project / "pyproject.toml").items())),
        **values,
    )
    return cfg
