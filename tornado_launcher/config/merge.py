"""Jaffle's deep merge of several config files, remembering which file said what.

Maps merge key by key; anything else from a later file (lists included)
replaces the earlier value.  ``origin`` maps every key path of the result to
the index of the file that supplied it (a block: the first file that opened
it), which :class:`~.positions.Reporter` uses to name that file in a
diagnostic.  Inputs are not modified.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Tuple


def merge(datas: List[Tuple[int, dict]], origin: Dict[tuple, int]) -> dict:
    """``datas`` are (file index, parsed data) in merge order; fills ``origin``."""
    merged: Dict[str, Any] = {}
    for index, data in datas:
        _merge_into(merged, data, (), index, origin)
    return merged


def _merge_into(into: dict, new: dict, path: tuple, index: int, origin: Dict[tuple, int]) -> None:
    for key, value in new.items():
        p = path + (key,)
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge_into(into[key], value, p, index, origin)
        else:
            into[key] = copy.deepcopy(value)
            _mark(value, p, index, origin)


def _mark(value: Any, path: tuple, index: int, origin: Dict[tuple, int]) -> None:
    origin[path] = index
    if isinstance(value, dict):
        for k, v in value.items():
            _mark(v, path + (k,), index, origin)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _mark(v, path + (i,), index, origin)
