"""Fixture repositories for `hardstack audit`: a backend (`api`) and its frontend sibling (`web`) as they
grow out of development tooling, with every class of finding planted, and a clean twin of each.

`write(tmp, planted=True)` writes both repos and returns their roots. Every planted finding has its
fixed form in the clean twin, so a class must show up in one and never in the other.
"""

from __future__ import annotations

from pathlib import Path

# class -> (planted files, clean files), each {repo-relative path: text}; repos "api" and "web".
PLANTED: dict[str, str] = {
    # AU1: an env file with values and a secret in settings (and no .dockerignore: D10)
    "api/.env": "DJANGO_SECRET_KEY=dev-3f9a8c1e77b2\nDB_PASSWORD=hunter2-for-real\n",
    "api/.env.example": "DJANGO_SECRET_KEY=\nDB_PASSWORD=\n",
    "api/shop/settings.py": 'import os\nSECRET_KEY = "django-insecure-9x#k2!vq7@m1p$z0w8r5t3y6u4i2o0p"\nDEBUG = os.environ.get("DJANGO_DEBUG") == "1"\n'
                            'ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "*").split(",")\nCORS_ALLOW_ALL_ORIGINS = True\n',
    "api/requirements.txt": "django==5.1.4\n",
    "api/manage.py": "import django\n",
    # AU2: the development Dockerfile and server used by the deployment compose file
    "api/Dockerfile.dev": "FROM python:3.12\nWORKDIR /app\nCOPY . /app\nRUN pip install -r requirements.txt\nCMD python manage.py runserver 0.0.0.0:8000\n",
    # AU2, AU3, C11: the deployment compose file
    "api/docker-compose.yml": """services:
  db:
    image: timescale/timescaledb:2.17.2-pg17
    environment:
      POSTGRES_PASSWORD: postgres
  web:
    build:
      context: .
      dockerfile: Dockerfile.dev
    command: python manage.py runserver 0.0.0.0:8000
    volumes:
      - .:/app
      - ./monitoring/prometheus.yml:/etc/prometheus/prometheus.yml
    environment:
      DB_HOST: db
  frontend:
    build: ../web
  nginx:
    image: nginx:1.27
    volumes:
      - ./ssl:/etc/nginx/ssl:ro
""",
    # N10: an nginx config gixy objects to (a Host header taken from the request); P1: no alert rules
    "api/nginx/default.conf": "server {\n    listen 80;\n    location / {\n        proxy_pass http://web:8000;\n        proxy_set_header Host $http_host;\n    }\n}\n",
    "api/prometheus/prometheus.yml": "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: web\n    static_configs:\n      - targets: [\"web:8000\"]\n",
    # AU4: the dev container drifted from compose
    "api/.devcontainer/devcontainer.json": """{
  // generated long ago
  "name": "api",
  "dockerComposeFile": "docker-compose.dev.yml",
  "service": "dev",
  "postCreateCommand": "pip install -r requirements.txt && npm install",
}
""",
    "api/.devcontainer/docker-compose.dev.yml": """services:
  dev:
    image: python:3.12
    command: sleep infinity
  db:
    image: timescale/timescaledb:2.17.2-pg17
    environment:
      POSTGRES_PASSWORD: devpass
""",
    # AU5: a predictable superuser, run by the deploy workflow
    "api/scripts/create_admin.py": 'from django.contrib.auth import get_user_model\n\nget_user_model().objects.create_superuser("admin", "admin@example.com", "admin123")\n',
    "api/.github/workflows/deploy.yml": """name: deploy
on: {push: {branches: [main]}}
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: docker compose up -d && docker compose exec -T web python scripts/create_admin.py
""",
    # AU6: tests twice, SQLite beside a Postgres service
    "api/.github/workflows/ci.yml": """name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    services:
      postgres:
        image: postgres:17
    env:
      DATABASE_URL: sqlite:///db.sqlite3
    steps:
      - uses: actions/checkout@v4
      - run: pytest
      - run: coverage run -m pytest && coverage xml
""",
    # AU6: the schema of the default branch; AU7: env names disagree, payloads logged
    "web/.github/workflows/ci.yml": """name: ci
on: [pull_request]
jobs:
  client:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: curl -fsSL -o openapi.yaml https://raw.githubusercontent.com/acme/api/main/openapi.yaml
      - run: npx openapi-typescript openapi.yaml -o src/api.d.ts
""",
    "web/package.json": '{"name": "web", "private": true, "scripts": {"build": "vite build"}}\n',
    "web/.env.production": "BACKEND_URL=http://api:8000\n",
    "web/server.js": """const express = require("express");
const app = express();
const target = process.env.API_BACKEND_URL;
app.use(express.json());
app.post("/api/*", (req, res) => {
  console.log("proxying", req.method, req.body);
  res.redirect(307, target + req.path);
});
app.listen(process.env.PORT || 3000);
""",
    # AU8: a pooler that lets everyone in, a Redis password on the command line, a database with trust
    "api/compose.cache.yml": """services:
  cache:
    image: redis:7.4
    command: redis-server --requirepass cache-pass-123
  pooler:
    image: edoburu/pgbouncer:1.23.1
    environment:
      AUTH_TYPE: trust
  replica:
    image: postgres:17
    environment:
      - POSTGRES_HOST_AUTH_METHOD=trust
""",
    # AU10 an admin UI published on every interface, AU11 no tag, a moving tag, an end-of-life base,
    # AU12 gunicorn trusting every forwarded address, AU13 installs from branches
    "api/compose.admin.yml": """services:
  pgadmin:
    image: dpage/pgadmin4
    ports:
      - "5050:80"
  search:
    image: elasticsearch:nightly
  legacy:
    image: python:3.7-slim
    environment:
      FORWARDED_ALLOW_IPS: "*"
""",
    "api/requirements-prod.txt": "django==5.1.4\nhttps://github.com/acme/payments/archive/refs/heads/main.zip\n"
                                 "git+https://github.com/acme/utils.git@master\n",
    # AU14: a secret file git would take (no .gitignore names it)
    "api/db/password.txt": "hunter2-for-real\n",
    "api/secrets/.gitkeep": "",
    # AU15: an entrypoint that dispatches on web/worker while the image starts celery
    "api/worker/Dockerfile": "FROM python:3.13-slim\nCOPY entrypoint.sh /entrypoint.sh\nUSER 10001:10001\n"
                             "ENTRYPOINT [\"/entrypoint.sh\"]\nCMD [\"celery\", \"-A\", \"shop\", \"worker\"]\n",
    "api/worker/entrypoint.sh": '#!/bin/sh\nset -eu\ncase "$1" in\n  web)\n    python manage.py migrate --noinput\n    ;;\n'
                                '  worker)\n    python manage.py check --deploy\n    ;;\nesac\nexec "$@"\n',
    # AU9: a key made afresh in every worker
    "api/shop/settings_prod.py": "import os\nfrom django.core.management.utils import get_random_secret_key\n\n"
                                 "SECRET_KEY = os.environ.get('DJANGO_SECRET_KEY', get_random_secret_key())\n",
}

CLEAN: dict[str, str] = {
    "api/shop/settings_prod.py": "import os\n\nSECRET_KEY = os.environ['DJANGO_SECRET_KEY']\n",
    # AU10-AU13 fixed
    "api/compose.admin.yml": """services:
  pgadmin:
    image: dpage/pgadmin4:8.14
    ports:
      - "127.0.0.1:5050:80"
  search:
    image: elasticsearch:8.17.0
  legacy:
    image: python:3.13-slim
    environment:
      FORWARDED_ALLOW_IPS: "127.0.0.1"
""",
    "api/requirements-prod.txt": "django==5.1.4\npayments @ https://github.com/acme/payments/archive/3f2c1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e.zip\n"
                                 "utils @ git+https://github.com/acme/utils.git@v1.2.3\n",
    # Not secrets: commit SHAs that pin hooks, subresource-integrity hashes, a format placeholder
    "api/.pre-commit-config.yaml": """repos:
  - repo: https://github.com/astral-sh/ruff-pre-commit
    rev: 6e2418c5521b7d606e72914dced3253f9ace1205  # v0.8.4
    hooks:
      - id: ruff
""",
    "web/index.html": """<!doctype html>
<script src="https://cdn.example.com/lib.js" integrity="sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC" crossorigin="anonymous"></script>
""",
    # AU8 fixed: passwords from a config file and secrets
    "api/compose.cache.yml": """services:
  cache:
    image: redis:7.4
    command: ["redis-server", "/usr/local/etc/redis/redis.conf"]
  pooler:
    image: edoburu/pgbouncer:1.23.1
    environment:
      AUTH_TYPE: scram-sha-256
""",
    "api/.env.example": "DJANGO_SECRET_KEY=\nDB_PASSWORD=\n",
    # Not secrets: a URL of placeholders, a commented line in a patch and in settings
    "api/shop/db.py": 'import os\nDSN = "postgres://%s:%s@db/shop" % (os.environ["DB_USER"], os.environ["DB_PASSWORD"])\n',
    "api/patches/login.patch": '--- a/settings.py\n+++ b/settings.py\n@@ -1,2 +1,2 @@\n # password = "commented-out-secret-123"\n'
                               '+PASSWORD = os.environ["PASSWORD"]\n',
    "api/shop/settings_old.py": '# SECRET_KEY = "django-insecure-commented-9x#k2!vq7@m1p$z0w8r5t3y6u4i"\n',
    # AU15 fixed: the branches are what the image is started with
    "api/worker/Dockerfile": "FROM python:3.13-slim\nCOPY entrypoint.sh /entrypoint.sh\nUSER 10001:10001\n"
                             "ENTRYPOINT [\"/entrypoint.sh\"]\nCMD [\"celery\", \"-A\", \"shop\", \"worker\"]\n",
    "api/worker/entrypoint.sh": '#!/bin/sh\nset -eu\ncase "$1" in\n  celery)\n    python manage.py check --deploy\n    ;;\n'
                                '  *)\n    ;;\nesac\nexec "$@"\n',
    "api/worker/.dockerignore": ".git\n.env\n.env.*\nsecrets\n**/secrets\nnode_modules\ntests\n",
    # AU1 and AU14 fixed: the same files on disk, but gitignored (what a developer's checkout holds)
    "api/.gitignore": ".env\ndb/password.txt\n",
    "api/.env": "DJANGO_SECRET_KEY=dev-3f9a8c1e77b2\nDB_PASSWORD=hunter2-for-real\n",
    "api/db/password.txt": "hunter2-for-real\n",
    "api/secrets/.gitkeep": "",
    "api/shop/settings.py": 'import os\nSECRET_KEY = os.environ["DJANGO_SECRET_KEY"]\nDEBUG = os.environ.get("DJANGO_DEBUG") == "1"\n'
                            'ALLOWED_HOSTS = os.environ["ALLOWED_HOSTS"].split(",")\nCORS_ALLOWED_ORIGINS = os.environ.get("CORS_ALLOWED_ORIGINS", "").split()\n',
    "api/requirements.txt": "django==5.1.4\n",
    "api/manage.py": "import django\n",
    "api/Dockerfile": """ARG PYTHON_IMAGE=python:3.12-slim-bookworm
FROM ${PYTHON_IMAGE} AS build
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE} AS runtime
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
COPY --chown=10001:10001 . /app
WORKDIR /app
HEALTHCHECK --interval=10s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/')"]
CMD ["/opt/venv/bin/gunicorn", "shop.wsgi:application"]
""",
    "api/.dockerignore": ".git\n.gitignore\n.env\n.env.*\n**/.env\n**/.env.*\nsecrets\n**/secrets\nnode_modules\n**/node_modules\ntests\n**/tests\n",
    "api/docker-compose.yml": """services:
  db:
    image: timescale/timescaledb:2.17.2-pg17
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_password]
  web:
    build:
      context: .
      dockerfile: Dockerfile
    command: ["/opt/venv/bin/gunicorn", "shop.wsgi:application"]
    volumes:
      - media:/srv/media
      - ./nginx/nginx.conf:/etc/nginx/nginx.conf:ro
    environment:
      DB_HOST: db
secrets:
  db_password:
    file: ./secrets/db_password
volumes:
  media: {}
""",
    "api/nginx/nginx.conf": "events {}\nhttp {\n    server_tokens off;\n    server { listen 8080; }\n}\n",
    "api/.devcontainer/devcontainer.json": """{
  "name": "api",
  "dockerComposeFile": "docker-compose.dev.yml",
  "service": "dev",
  "postCreateCommand": "pip install -r requirements.txt",
}
""",
    "api/.devcontainer/docker-compose.dev.yml": """services:
  dev:
    image: python:3.12
    command: sleep infinity
  db:
    image: timescale/timescaledb:2.17.2-pg17
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
""",
    "api/scripts/create_admin.py": """import os
from pathlib import Path

from django.contrib.auth import get_user_model

password = Path(os.environ["SUPERUSER_PASSWORD_FILE"]).read_text().strip()
get_user_model().objects.create_superuser("admin", "admin@example.com", password)
""",
    "api/.github/workflows/ci.yml": """name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    services:
      postgres:
        image: postgres:17
    env:
      DB_HOST: localhost
    steps:
      - uses: actions/checkout@v4
      - run: coverage run -m pytest && coverage xml
""",
    "web/.github/workflows/ci.yml": """name: ci
on: [pull_request]
jobs:
  client:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/download-artifact@v4
        with: {name: openapi}
      - run: npx openapi-typescript openapi.yaml -o src/api.d.ts
""",
    "web/package.json": '{"name": "web", "private": true, "scripts": {"build": "vite build"}}\n',
    "web/.env.production": "BACKEND_URL=http://api:8000\n",
    "web/server.js": """const express = require("express");
const app = express();
const target = process.env.BACKEND_URL;
app.post("/api/*", (req, res) => {
  console.log("proxying", req.method, req.path);
  res.redirect(307, target + req.path);
});
app.listen(process.env.PORT || 3000);
""",
}


def write(tmp: Path, planted: bool = True) -> list[Path]:
    for rel, text in (PLANTED if planted else CLEAN).items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return [tmp / "api", tmp / "web"]


# A repository whose compose files run merged: the base with its override (docker compose merges them
# unasked), a production overlay named by a Makefile, a swarm overlay named by COMPOSE_FILE in deploy/.env,
# and an overlay no command names. `web` is defined by an anchor, `worker` reuses it.
PROJECTS: dict[str, str] = {
    "shop/compose.yml": """x-app: &app
  build:
    context: .
    dockerfile: backend/Dockerfile
  healthcheck:
    test: ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/')"]
services:
  db:
    image: postgres:17.2
    healthcheck:
      test: ["CMD", "pg_isready", "-q"]
  web: &web
    <<: *app
  worker: *web
""",
    # alone, each of these would be "db: no healthcheck" and "web: no healthcheck"
    "shop/compose.override.yml": "services:\n  web:\n    ports:\n      - \"127.0.0.1:8000:8000\"\n",
    "shop/compose.staging.yml": "services:\n  db:\n    restart: unless-stopped\n  web:\n    restart: unless-stopped\n",
    # merged, this one takes db's healthcheck away and gives web a privileged container
    "shop/compose.prod.yml": "services:\n  db:\n    healthcheck: !reset null\n  web:\n    privileged: true\n",
    "shop/Makefile": "up:\n\tdocker compose -f compose.yml -f compose.prod.yml up -d --wait\n",
    "shop/deploy/compose.yml": "services:\n  cache:\n    image: redis:7.4.1\n    healthcheck:\n      test: [\"CMD\", \"redis-cli\", \"ping\"]\n",
    "shop/deploy/compose.swarm.yml": "services:\n  cache:\n    cap_add: [SYS_ADMIN]\n",
    "shop/deploy/.env": "COMPOSE_FILE=compose.yml:compose.swarm.yml\n",
    # compose builds backend/Dockerfile from the repository's root: the root's .dockerignore is the one read
    "shop/backend/Dockerfile": "FROM python:3.13-slim\nUSER 10001:10001\nCOPY . /app\n"
                               "HEALTHCHECK CMD [\"python\", \"-c\", \"print(1)\"]\nCMD [\"python\", \"-m\", \"http.server\"]\n",
    "shop/.dockerignore": ".git\n.env\n.env.*\n**/.env\n**/.env.*\nsecrets\n**/secrets\nnode_modules\n**/node_modules\ntests\n**/tests\n",
}


def write_projects(tmp: Path) -> Path:
    for rel, text in PROJECTS.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp / "shop"


# What files are for. `shop` is an application: a README names its local-only compose file, CI deploys
# a file named for development (so it is production), tests/ has a compose file of its own. `samples`
# is a collection whose README says it is not for production.
PRIVILEGED = ("services:\n  app:\n    image: python:3.13-slim\n    privileged: true\n"
              "    environment:\n      POSTGRES_PASSWORD: hunter2-for-real\n")
PURPOSES: dict[str, str] = {
    "shop/README.md": "# shop\n\nRun `docker compose -f docker-compose.local.yml up` for local development.\n",
    "shop/docker-compose.local.yml": PRIVILEGED,
    "shop/docker-compose.dev.yml": PRIVILEGED.replace("app:", "worker:"),
    "shop/docker-compose.yml": PRIVILEGED,
    "shop/tests/compose.yml": PRIVILEGED,
    "shop/.github/workflows/deploy.yml": "name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n"
                                         "      - run: docker compose -f docker-compose.yml -f docker-compose.dev.yml up -d\n",
    "samples/README.md": "# Compose samples\n\nThese samples are for learning; they are not meant for production.\n",
    "samples/django/compose.yaml": PRIVILEGED,
    "samples/flask/compose.yaml": PRIVILEGED,
}


def write_purposes(tmp: Path) -> list[Path]:
    for rel, text in PURPOSES.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return [tmp / "shop", tmp / "samples"]


# Every form the Compose Specification allows, in one file (long and short syntax, anchors, merge keys,
# extends, include, env_file with required: false, secrets from the environment, configs with content).
FORMS_COMPOSE = """name: forms
x-common: &common
  restart: unless-stopped
  logging:
    driver: json-file
    options: {max-size: 10m, max-file: "3"}
services:
  db:
    <<: *common
    image: postgres:17.2
    environment:
      - POSTGRES_PASSWORD_FILE=/run/secrets/db
      - POSTGRES_DB
    secrets:
      - source: db
        target: db
        uid: "999"
        mode: 0400
    healthcheck:
      test: pg_isready -q
      interval: 10s
    volumes:
      - type: volume
        source: data
        target: /var/lib/postgresql/data
    ports:
      - target: 5432
        host_ip: 127.0.0.1
        published: "5432"
        protocol: tcp
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    deploy:
      resources:
        limits: {cpus: "1", memory: 512M, pids: 100}
  web:
    <<: *common
    build: .
    depends_on: [db]
    command: gunicorn app:app
    user: "10001"
    cap_drop: [ALL]
    read_only: true
    tmpfs: /tmp
    security_opt: ["no-new-privileges"]
    networks:
      front:
        aliases: [api]
      back: {}
    labels: ["a=b"]
    extra_hosts: ["host.docker.internal:host-gateway"]
    env_file:
      - path: ./web.env
        required: false
    healthcheck:
      test: ["CMD-SHELL", "curl -f http://127.0.0.1/ || exit 1"]
    develop:
      watch:
        - action: sync
          path: ./src
          target: /app
  job:
    extends:
      service: web
    profiles: [tools]
    command: ["python", "job.py"]
    healthcheck:
      disable: true
  proxy:
    image: nginx:1.27
    ports: ["80:80", "443:443/tcp", "127.0.0.1:8443-8444:8443-8444"]
    configs:
      - source: nginx
        target: /etc/nginx/nginx.conf
    depends_on:
      web:
        condition: service_healthy
        restart: true
        required: false
networks:
  front: {}
  back: {internal: true}
volumes:
  data: {}
secrets:
  db:
    environment: DB_PASSWORD
configs:
  nginx:
    content: |
      events {}
include:
  - path: ./other/compose.yaml
    project_directory: ./other
"""
