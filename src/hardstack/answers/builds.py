"""The images: how the backend installs its dependencies, on which Python, with which packages, from
which contexts; which image references are not pinned.
"""

from __future__ import annotations

from typing import Any

from hardstack.catalog import DOCKERIGNORE, IMAGES, INSTALLERS, SERVER_PACKAGES


class Builds:
    """How the images are built: installer, Python, packages, build contexts and ignore files."""

    @property
    def ci_python(self) -> str:
        """The Python the backend workflow tests with: the image's."""
        from hardstack.catalog import DEFAULT_PYTHON

        return self.python_version or DEFAULT_PYTHON

    @property
    def installer(self) -> str:
        """uv, poetry or pip. `hardstack new` turns auto into what the backend context holds; a layout
        rendered without looking (plain cookiecutter) installs with pip from backend_requirements."""
        return "pip" if self.backend_installer == "auto" else self.backend_installer

    @property
    def installer_requirement(self) -> str:
        return INSTALLERS[self.installer]

    @property
    def server_packages(self) -> tuple[str, ...]:
        return SERVER_PACKAGES[self.server]

    @property
    def build_packages(self) -> list[str]:
        return self.backend_build_packages.split()

    @staticmethod
    def unpinned(packages: list[str]) -> bool:
        """Debian packages given without =version (hadolint DL3008, said and suppressed in the Dockerfile)."""
        return any("=" not in p for p in packages)

    @property
    def app_entry(self) -> tuple[str, str]:
        """The variable gunicorn's entry module reads the app from, and the app: WSGI or ASGI (server)."""
        return ("ASGI_APP", self.asgi_app) if self.server == "uvicorn" else ("WSGI_APP", self.wsgi_app)

    @property
    def python_version(self) -> str | None:
        """The X.Y of python_image, when its tag says it (python:3.13-slim-trixie -> 3.13)."""
        from hardstack.backend_project import image_python_version

        return image_python_version(self.python_image)

    @property
    def image_vars(self) -> dict[str, tuple[str, str]]:
        """answer key -> (variable name, reference) for every image."""
        return {key: (var, getattr(self, key)) for key, (var, _) in IMAGES.items()}

    @property
    def builds(self) -> dict[str, dict[str, Any]]:
        """What compose builds for backend and frontend: context, Dockerfile (relative to the context),
        build args that say where the app and the layout's deploy files are inside the context, and the
        ignore file the build uses.

        Example app: the context is the layout's own folder. Sibling repo: the context is the folder that
        holds both the layout and the repo, so the layout's Dockerfile, deploy scripts and
        `Dockerfile.dockerignore` (which sends only the app and those scripts) build the repo as it is.
        An explicit `*_dockerfile` answer builds that Dockerfile in the repo instead.
        """
        result = {}
        for part in ("backend", "frontend") if self.has_frontend else ("backend",):
            context, own = getattr(self, f"{part}_context"), getattr(self, f"{part}_dockerfile")
            if self.include_example_app:
                build = {"context": part, "dockerfile": "Dockerfile", "args": {}, "ignore": f"{part}/.dockerignore"}
            elif own:
                build = {"context": context, "dockerfile": own, "args": {}, "ignore": None}
            else:
                build = {"context": "..", "dockerfile": f"{self.project_slug}/{part}/Dockerfile",
                         "args": {"APP_DIR": context.removeprefix("../"), "DEPLOY_DIR": f"{self.project_slug}/{part}/deploy"},
                         "ignore": f"{part}/Dockerfile.dockerignore"}
            build["app_dir"] = context
            result[part] = build
        return result

    @property
    def image_parts(self) -> list[str]:
        """The images this layout builds itself, by the part name `hardstack images` pushes them under and the deploy
        looks their digests up by (deploy.plan.registry_refs): the builds, and with ACME the issuer."""
        return [*self.builds, *(["acme"] if self.uses_acme else [])]

    @staticmethod
    def image_name_var(part: str) -> str:
        """The variable that names a part's image in a registry in stack.yaml (`${BACKEND_IMAGE:-...}`)."""
        return f"{part.upper()}_IMAGE"

    @property
    def sibling_repos(self) -> list[str]:
        """The repo folders beside the layout (empty with the example app)."""
        if self.include_example_app:
            return []
        return list(dict.fromkeys(b["app_dir"].removeprefix("../").split("/")[0] for b in self.builds.values()))

    def dockerignore(self, part: str, sibling: bool = False) -> list[str]:
        """Lines of a part's ignore file: relative to the app's root, or (sibling) to the shared parent."""
        rules = DOCKERIGNORE["common"] + DOCKERIGNORE[part]
        if not sibling:
            return rules
        args = self.builds[part]["args"] if part in self.builds else {}
        if not args:
            return []  # not a sibling build: the hook removes this file
        app, deploy = args["APP_DIR"], args["DEPLOY_DIR"]
        return ["*", f"!{app}", f"!{deploy}"] + [f"{app}/{rule}" for rule in rules]

    @property
    def runtime_packages(self) -> list[str]:
        return self.backend_runtime_packages.split()

    @property
    def unpinned_images(self) -> dict[str, str]:
        """Service -> why its image carries no digest (compose-lint CL-0019 suppressions)."""
        built = "built from this layout; APP_VERSION tags the build and a registry push reports its digest"
        pulled = {"db": "db_image", "db-setup": "db_image", "proxy": "nginx_image", "backup": "db_image"}
        if self.enable_monitoring:
            pulled |= {"prometheus": "prometheus_image", "postgres-exporter": "postgres_exporter_image", "alertmanager": "alertmanager_image"}
        if self.uses_redis:
            pulled["redis"] = "redis_image"
            if self.enable_monitoring:
                pulled["redis-exporter"] = "redis_exporter_image"
        reasons = {svc: built for svc in self.app_services + (["frontend"] if self.has_frontend else []) + (["acme"] if self.uses_acme else [])}
        for svc, key in pulled.items():
            if "@sha256:" not in getattr(self, key):
                var = IMAGES[key][0]
                reasons[svc] = f"no digest was known at generation; pin it by setting {var}=name:tag@sha256:... in .env or the {key} answer"
        return reasons
