"""Trim switched-off parts, write fresh secrets, record the answers (see hardstack.hooks)."""
import json
import sys
from pathlib import Path

from hardstack.hooks import post_generate

sys.exit(post_generate(Path.cwd(), json.loads(r"""{{ cookiecutter | jsonify }}""")))
