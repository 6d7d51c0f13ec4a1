"""The code's layout is enforced, not only described: the import rules catch a wrong import, the shared
text rules need nothing but the standard library, and no comment names a tracker issue."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
TEXT_RULES = ROOT / "libs/helpdesk-text/helpdesk_text"


def _copy_of_the_service(tmp_path: Path) -> Path:
    for package in ("handoff_api", "knowledge_base"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(TEXT_RULES, tmp_path / "helpdesk_text", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=folder,
        env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        # A table that reaches up into the HTTP layer.
        ("handoff_api/models/base.py", "from handoff_api.api import deps", "layered"),
        # A rule of the domain that answers in HTTP terms.
        ("handoff_api/handoffs/rules.py", "import fastapi", "Only the HTTP layer"),
        # The knowledge-base library that depends on the service.
        ("knowledge_base/search.py", "import handoff_api.models", "stand alone"),
    ],
)
def test_the_import_rules_catch_a_wrong_import(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    folder = _copy_of_the_service(tmp_path)
    assert _lint_imports(folder).returncode == 0, "the layout as committed keeps every contract"
    path = folder / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # noqa\n")
    result = _lint_imports(folder)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and contract in result.stdout, result.stdout[-2000:]


def test_the_text_rules_import_only_the_standard_library() -> None:
    """They are installed into Rasa's environment too, which has none of the service's packages."""
    imported: set[str] = set()
    for path in TEXT_RULES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    outside = imported - set(sys.stdlib_module_names) - {"helpdesk_text", "__future__"}
    assert not outside, f"helpdesk_text imports {sorted(outside)}"
    assert {"re", "typing"} <= imported  # the walk saw the imports


def test_no_comment_names_a_tracker_issue(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import check_comments
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert check_comments.findings(ROOT) == []
    # And it would see one, in a comment or a docstring, but not in code.
    (tmp_path / "handoff_api").mkdir()
    (tmp_path / "handoff_api/x.py").write_text(
        '"""Built for issue 12."""\n\nlabel = "issue 3"  # see Issue #4\n'
    )
    found = check_comments.findings(tmp_path)
    assert [line.split(": names")[0] for line in found] == ["handoff_api/x.py:1", "handoff_api/x.py:3"]
