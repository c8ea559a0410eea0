"""Refuse bad answers before anything is written; the rules live in hardstack.answers."""
import json
import sys

from hardstack.hooks import pre_generate

sys.exit(pre_generate(json.loads(r"""{{ cookiecutter | jsonify }}""")))
