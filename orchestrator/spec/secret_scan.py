"""Refuse credentials written in a spec file.

Specs are committed, copied, stored with the job and shown in errors; a
password in one leaks everywhere. Credentials come from the environment,
``~/.pgpass`` or a service file. The scan runs over the whole file (params
and the ssh section included) and its messages never repeat the value found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.spec.yaml_nodes import YMap, YNode, YScalar, YSeq, walk

ADVICE = (
    "credentials must not be written in a spec: read them from the environment "
    "(e.g. PGPASSWORD), ~/.pgpass or a service file instead"
)

# Unambiguous wherever they appear in a key ("dbpassword", "ssh_passphrase").
_SECRET_SUBSTRINGS = ("password", "passwd", "passphrase", "apikey", "privatekey")
# Words that must stand alone ("auth_token" yes, "tokenizer" no).
_SECRET_WORDS = frozenset({"secret", "secrets", "token"})
# A key that names *where* a secret is ("password_file", "token_env") is fine.
_REFERENCE_SUFFIXES = frozenset({"file", "path", "filename", "env", "var"})

_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_URL_WITH_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:[^\s/@]+@")
_PASSWORD_ASSIGNMENT = re.compile(r"\bpass(?:word|wd)\s*=\s*[^\s&;'\"]", re.IGNORECASE)


@dataclass(frozen=True)
class SecretHit:
    """A secret found at ``node`` (field ``path``); ``message`` never contains it."""

    node: YNode
    path: str
    message: str


def is_secret_key(key: str) -> bool:
    """True for keys like ``password``, ``db_password``, ``apiKey``, ``auth_token``."""
    words = [word.lower() for word in _WORDS.findall(key)]
    if words and words[-1] in _REFERENCE_SUFFIXES:
        return False
    compact = "".join(words)
    return any(s in compact for s in _SECRET_SUBSTRINGS) or bool(_SECRET_WORDS & set(words))


def has_secret_value(text: str) -> bool:
    """True for a URL with a password (``scheme://user:pass@host``) or ``password=...``."""
    return bool(_URL_WITH_PASSWORD.search(text) or _PASSWORD_ASSIGNMENT.search(text))


def scan(root: YNode) -> tuple[list[SecretHit], set[int]]:
    """Every secret-looking key and value in a tree.

    Returns the hits and the ids of all nodes whose value must never be shown
    in any other message (the hits' values and everything under a secret key).
    """
    hits: list[SecretHit] = []
    hidden: set[int] = set()

    def visit(node: YNode, path: str) -> None:
        if isinstance(node, YSeq):
            for i, item in enumerate(node.items):
                visit(item, f"{path}[{i}]")
        elif isinstance(node, YMap):
            for key, (key_node, value) in node.entries.items():
                child = f"{path}.{key}" if path else key
                if has_secret_value(key):
                    # Not even the field path may repeat this key.
                    where = f"{path}.<key>" if path else "<key>"
                    hits.append(
                        SecretHit(key_node, where, f"this key contains a password: {ADVICE}")
                    )
                elif is_secret_key(key):
                    hits.append(
                        SecretHit(key_node, child, f"key '{key}' looks like a credential: {ADVICE}")
                    )
                else:
                    visit(value, child)
                    continue
                hidden.add(id(key_node))
                hidden.update(id(n) for n in walk(value))
        elif (
            isinstance(node, YScalar)
            and isinstance(node.value, str)
            and has_secret_value(node.value)
        ):
            hits.append(SecretHit(node, path, f"this value contains a password: {ADVICE}"))
            hidden.add(id(node))

    visit(root, "")
    return hits, hidden
