# Shared by scripts/test, scripts/demo and scripts/bench: find a Python >= 3.11,
# create .venv if missing and install the project into it.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

as_root() {
    # Run a command as root: directly when we are root, else through sudo.
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "cannot install $* (no apt-get); install it yourself"
    if [ -z "${_APT_UPDATED:-}" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        _APT_UPDATED=1
    fi
    log "installing Debian packages: $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

find_python() {
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    die "Python 3.11 or newer is required"
}

ensure_venv() {
    # ensure_venv EXTRAS: create .venv (if missing) and install the project.
    local extras="${1:-}"
    if [ ! -x "$VENV/bin/python" ]; then
        local py
        py="$(find_python)"
        log "creating $VENV with $py"
        if ! "$py" -m venv "$VENV" 2>/dev/null; then
            apt_install python3-venv
            "$py" -m venv "$VENV"
        fi
    fi
    local stamp="$VENV/.jobctl-installed$extras"
    if [ ! -f "$stamp" ] || [ "$REPO_ROOT/pyproject.toml" -nt "$stamp" ]; then
        log "installing jobctl$extras into .venv"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$REPO_ROOT$extras"
        touch "$stamp"
    fi
}
