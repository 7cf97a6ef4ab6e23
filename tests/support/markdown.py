"""Reading our Markdown as GitHub renders it: fenced code blocks, headings and their anchors, relative links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
FENCE = re.compile(r"^(```+|~~~+)\s*(.*)$")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class CodeBlock:
    path: Path
    line: int  # of the opening fence, 1-based
    info: str  # the fence's info string, e.g. "sh test hello.mp3"
    code: str

    @property
    def words(self) -> list[str]:
        return self.info.split()

    @property
    def language(self) -> str:
        return self.words[0] if self.words else ""

    @property
    def is_test(self) -> bool:
        """An example the suite runs: info string `sh test [files...]` or `python test [files...]`."""
        return len(self.words) >= 2 and self.words[1] == "test"

    @property
    def outputs(self) -> list[str]:
        """The audio files the example must write into its working folder."""
        return self.words[2:] if self.is_test else []

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def split(path: Path) -> tuple[list[str], list[CodeBlock]]:
    """(the lines outside fenced code blocks, the code blocks)."""
    prose, blocks = [], []
    fence = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, start, info, body = match.group(1), number, match.group(2).strip(), []
            else:
                prose.append(line)
        elif match and match.group(1).startswith(fence) and not match.group(2).strip():
            blocks.append(CodeBlock(path=path, line=start, info=info, code="\n".join(body) + "\n"))
            fence = None
        else:
            body.append(line)
    assert fence is None, f"{path}: a code block opened on line {start} is never closed"
    return prose, blocks


def code_blocks(path: Path) -> list[CodeBlock]:
    return split(path)[1]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (but - and _), spaces to hyphens."""
    text = re.sub(r"`|\*\*|\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub makes for the page's headings (a repeated heading gets -1, -2 ...)."""
    seen: dict[str, int] = {}
    result = set()
    for line in split(path)[0]:
        match = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(path: Path) -> list[str]:
    """Every link target in the page's prose (not inside code)."""
    found = []
    for line in split(path)[0]:
        line = re.sub(r"`[^`]*`", "", line)  # inline code is not a link
        found += LINK.findall(line)
    return found
