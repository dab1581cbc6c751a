"""Matching column headers written by people: one normalisation rule for every reader.

Site lists, candidate lists and comparison lists all accept English or Chinese headers in any
case, with or without spaces, punctuation, a bracketed unit (``投资(万元)``) or a coordinate-system
tag (``lon_gcj02``). The three readers used to carry their own drifting copies of these rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_PUNCT = re.compile(r"[\s_\-.:/\\()\[\]{}【】（）<>²]+")
_BRACKETED = re.compile(r"[(\[{（【<].*?[)\]}）】>]")


def norm(text: object) -> str:
    """Normalised name or value: NFKC, lower case, no whitespace or punctuation.

    ``" Site ID "``, ``"site_id"`` and ``"SITE-ID"`` all give ``"siteid"``; full-width
    characters fold to their ASCII forms.
    """
    s = unicodedata.normalize("NFKC", str(text)).lower().strip()
    return _PUNCT.sub("", s)


def name_variants(name: object, tags: Iterable[str] = ()) -> list[str]:
    """Ways a header may spell a field: as is, without a bracketed part, without a leading or
    trailing ``tag`` (e.g. a coordinate-system tag), each normalised, without repeats."""
    s = unicodedata.normalize("NFKC", str(name)).lower().strip()
    out = [norm(s), norm(_BRACKETED.sub("", s))]
    for base in list(out):
        for tag in tags:
            if base.endswith(tag) and len(base) > len(tag):
                out.append(base[: -len(tag)])
            if base.startswith(tag) and len(base) > len(tag):
                out.append(base[len(tag):])
    return [v for i, v in enumerate(out) if v and v not in out[:i]]


def find_column(columns: Iterable, aliases: Iterable[str]) -> str | None:
    """The column whose name (or a :func:`name_variants` of it) matches the best-ranked alias.

    Parameters
    ----------
    columns : iterable
        Column names as written in the file.
    aliases : iterable of str
        Accepted names, best first.

    Returns
    -------
    str or None
        The matching column as written, ``None`` when no alias matches.
    """
    rank: dict[str, int] = {}
    for i, a in enumerate(aliases):
        rank.setdefault(norm(a), i)
    best, best_rank = None, len(rank)
    for col in columns:
        for v in name_variants(col):
            if v in rank and rank[v] < best_rank:
                best, best_rank = col, rank[v]
    return best
