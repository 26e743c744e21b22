"""Words for the search index and for queries: Chinese segmented by jieba, other scripts lower-cased.

The same function runs at index time (``search_text`` of the public catalog) and at query time, so
a query's words meet the index's words: "羊绒 围巾" and "羊绒围巾" both become ``羊绒 围巾``.
PostgreSQL's ``simple`` configuration then only splits on spaces and lower-cases (the embedded
server has no Chinese parser and no contrib extensions).
"""

from __future__ import annotations

import logging
import re
import threading

import jieba

jieba.setLogLevel(logging.WARNING)
_lock = threading.Lock()
_ready = False

# Runs of CJK ideographs, or runs of letters/digits of any other script.
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _initialise() -> None:
    global _ready
    if not _ready:
        with _lock:
            if not _ready:
                jieba.initialize()
                _ready = True


def words(text: str | None, *, for_search: bool = True) -> list[str]:
    """The words of ``text`` in order, duplicates kept. Chinese runs are cut by jieba (in search
    mode: a long dictionary word also yields its shorter words, 中华人民共和国 gives 共和国 too)."""
    if not text:
        return []
    _initialise()
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if _CJK.match(token):
            cut = jieba.cut_for_search(token) if for_search else jieba.cut(token)
            out.extend(word for word in cut if word.strip())
        else:
            out.append(token.lower())
    return out


def is_cjk(word: str) -> bool:
    """Whether ``word`` (one word of ``words``) is Chinese: such words match whole, others by prefix."""
    return bool(_CJK.match(word))


def index_text(*parts: str | None) -> str:
    """One space-separated string of the words of ``parts`` (for ``to_tsvector('simple', …)``)."""
    return " ".join(word for part in parts for word in words(part))
