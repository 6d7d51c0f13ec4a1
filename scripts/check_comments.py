"""Fails when a comment or docstring names a tracker issue by number ("issue" followed by a number).

Comments say why, in the help desk's own words; which issue asked for something, and when, is history:
it belongs in the commit log and docs/performance.md, where it cannot go stale in the code.
Python: comments and docstrings (tokenize). Other source files (YAML, JS, HTML, CSS): every line.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from pathlib import Path

ISSUE = re.compile(r"\bissues?\s*#?\d+\b", re.IGNORECASE)
ROOTS = ("handoff_api", "knowledge_base", "libs", "bot", "tests", "bench", "deploy", "scripts")
OTHER = {".yml", ".yaml", ".mjs", ".js", ".html", ".css", ".toml", ".lua", ".sql"}
SKIP_PARTS = {"__pycache__", "node_modules", ".venv", ".venv-bot", "results"}


def python_findings(path: Path, text: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    previous = tokenize.INDENT
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return [(1, "cannot be tokenized")]
    for token in tokens:
        is_docstring = token.type == tokenize.STRING and previous in (
            tokenize.INDENT,
            tokenize.NEWLINE,
            tokenize.DEDENT,
            tokenize.NL,
        )
        if (token.type == tokenize.COMMENT or is_docstring) and ISSUE.search(token.string):
            found.append((token.start[0], token.string.strip().splitlines()[0][:100]))
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token.type
    return found


def findings(root: Path) -> list[str]:
    problems = []
    for top in ROOTS:
        for path in sorted((root / top).rglob("*")):
            if not path.is_file() or SKIP_PARTS & set(path.parts):
                continue
            if path.suffix == ".py":
                text = path.read_text(encoding="utf-8")
                hits = python_findings(path, text)
            elif path.suffix in OTHER:
                text = path.read_text(encoding="utf-8")
                hits = [
                    (n, line.strip()[:100])
                    for n, line in enumerate(text.splitlines(), 1)
                    if ISSUE.search(line)
                ]
            else:
                continue
            problems += [f"{path.relative_to(root)}:{n}: names an issue: {what}" for n, what in hits]
    return problems


def main() -> int:
    problems = findings(Path(__file__).resolve().parents[1])
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} comments name tracker issues: say why in the product's words instead")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
