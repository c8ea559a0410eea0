"""YAML parsed by libyaml when PyYAML has it: the same documents as yaml.safe_load, about ten times
faster (`hardstack check` parses compose.yaml, stack.yaml and the Prometheus files on every run).

A check run parses the same text in several rows (stack.yaml in W1, W2, W3, C19 and C20): each text is parsed
once, and kept as JSON when its document survives the round trip unchanged (plain keys, no dates), so every
caller still gets a fresh document of its own to read or change."""

from __future__ import annotations

import hashlib
import json
import threading

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KEPT = 256  # texts remembered (a rendered layout's few YAML files, for the last few dozen layouts)
_AS_JSON: dict[str, str | None] = {}  # sha256 of a text -> its document as JSON; None: not JSON-shaped
_LOCK = threading.Lock()  # the check rows run in threads


def safe_load(text: str):
    key = hashlib.sha256(text.encode()).hexdigest()
    known, kept = key in _AS_JSON, _AS_JSON.get(key)
    if kept is not None:
        return json.loads(kept)
    doc = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (libyaml's SafeLoader)
    if not known:
        as_json = _as_json(doc)
        with _LOCK:
            _AS_JSON[key] = as_json
            while len(_AS_JSON) > _KEPT:
                del _AS_JSON[next(iter(_AS_JSON))]
    return doc


def _as_json(doc) -> str | None:
    try:
        text = json.dumps(doc)
    except (TypeError, ValueError):  # dates, sets, ...
        return None
    return text if json.loads(text) == doc else None  # int keys would come back as strings
