#!/usr/bin/env bash
# Installs what hubstream needs on a fresh machine. Idempotent: a second run only checks.
#   - PostgreSQL server binaries (Debian's package) if the machine has none
#   - Java and Maven, for the Kafka broker
#   - .venv with hubstream and its dev tools
#   - the Kafka broker's jars, from Maven Central (deploy/kafka/pom.xml)
#   - older client releases the compatibility tests drive, each in .venv/sdk/ (deploy/legacy_clients.py)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "bootstrap: need root to run: $*" >&2; exit 1; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  echo "bootstrap: installing $* from Debian's packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v pg_ctl >/dev/null && ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  apt_install postgresql
fi
command -v java >/dev/null || apt_install openjdk-17-jre-headless
command -v mvn >/dev/null || apt_install maven

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.hubstream-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing hubstream into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi

.venv/bin/python - <<'PY'
from deploy.broker import fetch_jars, has_jars, libs_dir
if not has_jars(libs_dir()):
    print("bootstrap: fetching the Kafka broker's jars with Maven (once)")
fetch_jars()
PY

.venv/bin/python -c "from deploy.legacy_clients import install_all; install_all()"
