"""Where hardstack finds its template, stand-in recipes and Pulumi project.

An installed wheel carries them in `hardstack/_data/` (see pyproject.toml's force-include); a
checkout or an editable install reads them from the repository root, which keeps the cookiecutter
layout (`cookiecutter.json`, `{{cookiecutter.project_slug}}/`, `hooks/`) so that `cookiecutter` and
`cruft` can use the repository directly too.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
BUNDLED = PACKAGE / "_data"
CHECKOUT = PACKAGE.parents[1]


class ResourceError(RuntimeError):
    pass


def data_root() -> Path:
    for root in (BUNDLED, CHECKOUT):
        if (root / "cookiecutter.json").is_file():
            return root
    raise ResourceError(f"hardstack's template is missing from {BUNDLED}; reinstall hardstack (pip install --force-reinstall hardstack)")


def template_dir() -> Path:
    return data_root()


def standins_script() -> Path:
    return data_root() / "scripts" / "stand-in-images"


def pulumi_project() -> Path:
    return data_root() / "pulumi"


def is_checkout(root: Path) -> bool:
    return root == CHECKOUT
