"""How the proxy gets its certificate: off, the user's files (mounted as secrets), or ACME (the acme service,
its state volume, the challenge location on port 80)."""

from __future__ import annotations

import json

from hardstack.catalog import ACME_RENEW_DAYS, ACME_STATE, SERVICES


class Tls:
    """The proxy's TLS, derived from tls_mode and the ACME answers."""

    @property
    def tls_on(self) -> bool:
        """The proxy terminates TLS (tls_mode files or acme; enable_tls is the older spelling of files)."""
        return self.tls_mode != "off"

    @property
    def tls_from_files(self) -> bool:
        """A certificate and key the user provides (host files, mounted as secrets)."""
        return self.tls_mode == "files"

    @property
    def uses_acme(self) -> bool:
        """Certificates by ACME: the acme service, its certs volume and the challenge location on port 80."""
        return self.tls_mode == "acme"

    @property
    def tls_files(self) -> dict[str, str]:
        """The certificate and key nginx reads: compose secrets (files) or the acme service's volume."""
        if self.uses_acme:
            return {"certificate": f"{ACME_STATE}/live/fullchain.pem", "key": f"{ACME_STATE}/live/privkey.pem"}
        return {"certificate": "/run/secrets/tls_certificate", "key": "/run/secrets/tls_certificate_key"}

    @property
    def proxy_command(self) -> str:
        """The proxy's command, as compose.yaml and stack.yaml write it: nginx in the foreground, or with ACME
        nginx/watch-certificate.sh, which runs it and reloads it when the acme service renews the certificate."""
        if self.uses_acme:
            return json.dumps(["sh", "/etc/nginx/hardstack/watch-certificate.sh"])
        return json.dumps(["nginx", "-c", "/etc/nginx/hardstack/nginx.conf", "-g", "daemon off;"])

    @property
    def acme_env(self) -> dict[str, str]:
        """The acme service's environment (acme/issuer.py reads it), quoted for YAML."""
        env = {"ACME_DOMAIN": self.domain, "ACME_DIRECTORY_URL": f"${{ACME_DIRECTORY_URL:-{self.acme_directory_url}}}",
               "ACME_EMAIL": self.acme_email, "ACME_RENEW_DAYS": str(ACME_RENEW_DAYS), "ACME_METRICS_PORT": str(SERVICES["acme"].port),
               "ACME_PROXY_URL": f"http://proxy:{SERVICES['proxy'].port}"}
        if self.acme_ca_bundle:
            env["ACME_CA_BUNDLE"] = "/run/secrets/acme_ca_bundle"
        return {k: json.dumps(v) for k, v in env.items()}

    @property
    def acme_state(self) -> str:
        return ACME_STATE

    @property
    def acme_renew_days(self) -> int:
        return ACME_RENEW_DAYS
