"""The generated CI workflows and the dev container: pinned actions and tools, folders, dev-only secrets.
"""

from __future__ import annotations

from hardstack.catalog import ACTIONS, PULUMI_VERSION


class Workflows:
    """The CI workflows' and the dev container's values."""

    @property
    def actions(self) -> dict[str, str]:
        """`uses:` value for each pinned action, with its tag as a trailing comment."""
        return {key: f"{ref} # {tag}" for key, (ref, tag) in ACTIONS.items()}

    @property
    def pulumi_version(self) -> str:
        return PULUMI_VERSION

    @property
    def ci_dirs(self) -> dict[str, str]:
        """Where the workflows run each part: folders of this repo, or the root of a sibling repo."""
        inside = self.include_example_app
        return {"backend": "backend" if inside else ".", "frontend": "frontend" if inside else "."}

    @property
    def dev_workspace(self) -> dict[str, str]:
        """The dev container's workspace: this layout, or the folder holding the sibling repos."""
        if self.include_example_app:
            return {"mount": "..", "backend": "backend", "frontend": "frontend"}
        return {"mount": "../..", "backend": self.backend_context.split("/")[-1], "frontend": self.frontend_context.split("/")[-1] or ""}

    @property
    def dev_secrets(self) -> list[str]:
        """What the dev container mounts: the backend's secrets, with the owner role's password for the app's."""
        return ["db_owner_password" if name == "db_password" else name for name, users in self.secrets.items() if "backend" in users]

    @property
    def dev_env_files(self) -> dict[str, str]:
        """The dev container's *_FILE variables: the backend's, the database password being the owner role's."""
        files = {name: value for name, value in self.app_env.items() if name.endswith("_FILE")}
        files[f"{self.env_db_password}_FILE"] = "/run/secrets/db_owner_password"
        return files

    @property
    def dev_install(self) -> str:
        """The dev container's postCreateCommand: the app's dependencies as its installer installs them (dev
        group included) into /workspace/.venv, then the SPA's."""
        w = self.dev_workspace
        backend = {
            "uv": f"pip install '{self.installer_requirement}' && (cd {w['backend']} && UV_PROJECT_ENVIRONMENT=/workspace/.venv uv sync --locked)",
            "poetry": f"pip install '{self.installer_requirement}' && python -m venv /workspace/.venv && "
                      f"(cd {w['backend']} && VIRTUAL_ENV=/workspace/.venv poetry install --no-root)",
            "pip": f"python -m venv /workspace/.venv && /workspace/.venv/bin/pip install -r {w['backend']}/{self.backend_requirements}",
        }[self.installer]
        return backend + (f" && (cd {w['frontend']} && npm ci)" if self.has_frontend else "")
