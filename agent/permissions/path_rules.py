"""File-path rules (`Edit(src/**)`, `Read(//etc/**)`, `Read(~/.ssh/**)`): where a pattern starts and
whether a path falls under it, gitignore-style, both as the path is written and as it resolves. One
PathRules per project folder and home; kept apart from the policy because Read, Edit, Grep and Glob
(and read_denied's hard-link checks) all judge paths through it, while Bash rules never do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from agent.permissions.rules import Rule, rule_group
from agent.tools.listing import glob_or_parent_regex


@dataclass(frozen=True)
class PathRules:
    """The roots a path rule is read against: the project and home, as given (absolute) and resolved."""

    project: Path
    real_project: Path
    home: Path
    real_home: Path

    @classmethod
    def at(cls, project_dir: Path, home: Path) -> PathRules:
        project, home = Path(os.path.abspath(project_dir)), Path(os.path.abspath(home))
        return cls(project, Path(os.path.realpath(project)), home, Path(os.path.realpath(home)))

    def moved_to(self, project_dir: Path) -> PathRules:
        """The same home with `project_dir` as the project folder."""
        project = Path(os.path.abspath(project_dir))
        return replace(self, project=project, real_project=Path(os.path.realpath(project)))

    def matches(self, spec: str, subject: str, *, resolved_only: bool) -> bool:
        """gitignore-style: the pattern matches the path or one of its folders below the rule's root."""
        path = Path(subject).expanduser()
        path = path if path.is_absolute() else self.project / path
        return self.rule(spec, resolved_only=resolved_only)(os.path.realpath(path), os.path.normpath(path))

    def rule(self, spec: str, *, resolved_only: bool) -> Callable[[str, str], bool]:
        """The rule as a test of (resolved path, path as written), both absolute strings; the second is
        ignored when resolved_only. Built once per search so that each file costs no Path objects."""
        forms = []
        for real in (True,) if resolved_only else (True, False):
            root, pattern = self.root(spec, real)
            patterns = [pattern]
            if not resolved_only and pattern.endswith("/**"):  # deny `dir/**` also denies searching dir
                patterns.append(pattern[:-3])
            forms.append((str(root), glob_or_parent_regex(*patterns)))

        def matches(real_path: str, written: str) -> bool:
            for (root, regex), candidate in zip(forms, (real_path, written), strict=False):
                rel = below(candidate, root)
                if rel is not None and regex.fullmatch(rel):
                    return True
            return False
        return matches

    def root(self, spec: str, real: bool) -> tuple[Path, str]:
        """(folder, pattern below it): `//abs`, `~/home`, `/project` or `./project`, else any depth."""
        project = self.real_project if real else self.project
        home = self.real_home if real else self.home
        if spec.startswith("//"):
            return Path("/"), spec[2:].rstrip("/")
        if spec.startswith("~/"):
            return home, spec[2:].rstrip("/")
        if spec.startswith(("/", "./")):
            return project, spec.split("/", 1)[1].rstrip("/")
        pattern = spec.rstrip("/")
        return project, pattern if "/" in pattern else f"**/{pattern}"  # gitignore: any depth

    def names_exactly(self, rules: Iterable[Rule], tool_name: str, protected: Iterable[Path]) -> Rule | None:
        """An allow rule whose path, without wildcards, is the very file every protected path leads to."""
        targets = {Path(os.path.realpath(p)) for p in protected}
        for rule in rules:
            spec = rule.specifier
            if not (rule.covers(tool_name) and spec and "/" in spec.rstrip("/")) or any(c in spec for c in "*?[{"):
                continue
            root, pattern = self.root(spec, real=True)
            if targets == {Path(os.path.realpath(root / pattern))}:
                return rule
        return None

    def exact_rule(self, tool_name: str, protected: Path) -> str:
        """The rule that names this one protected file: `./` inside the project, `//` outside."""
        group = rule_group(tool_name)
        target = Path(os.path.realpath(protected))
        if target.is_relative_to(self.real_project):
            return f"{group}(./{target.relative_to(self.real_project).as_posix()})"
        return f"{group}(/{target.as_posix()})"


def below(path: str, root: str) -> str | None:
    """path relative to root with `/` separators ("" for root itself), or None when not below it."""
    if path == root:
        return ""
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path[len(prefix):].replace(os.sep, "/") if path.startswith(prefix) else None
