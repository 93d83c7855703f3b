"""WordNet's glosses as English documents: the source of the bundled real-text corpus (``data=tiny_text``).

WordNet 3.0's database files (``data.noun``, ``data.verb``, ``data.adj``, ``data.adv``; Debian's ``wordnet-base``
installs them in :data:`WORDNET_DIR`) hold one synset per line::

    <offset> <lex_filenum> <pos> <w_cnt> <word> <lex_id> ... <p_cnt> <pointers> ... | <gloss>

and the gloss is a definition followed by quoted example sentences (``a dog; "the dog barked all night"``). A
synset becomes one document: its words, the definition as a sentence, then each example as a sentence::

    laying waste, ruin, wrecking: destruction achieved by causing something to be wrecked or ruined.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")  # Debian's wordnet-base
DATA_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
LICENCE_FILE = Path("/usr/share/doc/wordnet-base/copyright")
_ADJECTIVE_MARKER = re.compile(r"\((a|p|ip)\)$")  # syntactic markers on adjectives: "galore(ip)"
_EXAMPLE = re.compile(r'"([^"]+)"')


@dataclass(frozen=True)
class Synset:
    """One WordNet synset: its ``id`` (``<pos><offset>``, unique across the four files), words and gloss parts."""

    id: str
    words: tuple[str, ...]
    definition: str
    examples: tuple[str, ...]

    def document(self) -> str:
        """The synset as English text: ``words: definition. Example. Example.``"""
        sentences = [_sentence(f"{', '.join(self.words)}: {self.definition}")] if self.definition else []
        sentences += [_sentence(example[:1].upper() + example[1:]) for example in self.examples]
        return " ".join(sentences)


def _sentence(text: str) -> str:
    text = text.strip().rstrip(";,: ")
    return text if text.endswith((".", "!", "?")) else text + "."


def parse_line(line: str) -> Synset | None:
    """The synset of one database line; ``None`` for the licence header (lines starting with two spaces)."""
    if line.startswith("  ") or "|" not in line:
        return None
    head, gloss = line.split("|", 1)
    fields = head.split()
    offset, pos, count = fields[0], fields[2], int(fields[3], 16)
    words = tuple(_ADJECTIVE_MARKER.sub("", fields[4 + 2 * i]).replace("_", " ") for i in range(count))
    examples = tuple(e.strip() for e in _EXAMPLE.findall(gloss) if e.strip())
    definition = _EXAMPLE.sub("", gloss).strip().strip(";").strip()
    definition = re.sub(r"\s*;\s*(;\s*)*$", "", definition)
    return Synset(f"{pos}{offset}", words, definition, examples)


def read_synsets(wordnet_dir: Path = WORDNET_DIR) -> Iterator[Synset]:
    """Every synset of the four database files, in file order."""
    for name in DATA_FILES:
        with open(wordnet_dir / name, encoding="utf-8") as lines:
            for line in lines:
                synset = parse_line(line)
                if synset is not None:
                    yield synset
