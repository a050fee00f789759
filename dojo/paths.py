"""Where things live in the repository; every other module asks here."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KATAS = REPO / "katas"
SOLUTIONS = REPO / "solutions"
GRADERS = REPO / "graders"
DOCS = REPO / "docs"
MANIFEST = REPO / "katas.toml"
RULES = REPO / "rules.toml"
STANDARD = REPO / "standard" / "backend-rules.md"
STATE = REPO / ".dojo"
SITE_URL = "http://127.0.0.1:8000"
