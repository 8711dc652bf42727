#!/usr/bin/env bash
# The browser the portal's end-to-end tests drive.
#
#   browser.sh install   install Debian's `chromium` (and a CJK font, so the Chinese pages render
#                        as text rather than boxes) unless /usr/bin/chromium is already there;
#                        quiet and quick when it is
#
# Playwright's own browser download cannot reach its servers from here, so the tests launch
# this system Chromium through Playwright's `executable_path` instead.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

die() {
    echo "browser.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 install" >&2
    exit 2
}

cmd_install() {
    [[ -x "$CHROMIUM" ]] && return 0

    local -a sudo=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null || die "Chromium is not installed, and installing it needs root or sudo"
        sudo=(sudo)
    fi

    # Two test runs at once must not both run apt-get: the second waits, then finds it installed.
    local lock="${TMPDIR:-/tmp}/custos-browser-install.lock"
    if exec 9>>"$lock"; then
        flock -w 900 9 || die "timed out waiting for another install of Chromium"
        [[ -x "$CHROMIUM" ]] && return 0
    fi

    echo "browser.sh: installing Debian's chromium and fonts-noto-cjk packages" >&2
    local -a apt_opts=(-q -o DPkg::Lock::Timeout=600)
    "${sudo[@]}" apt-get "${apt_opts[@]}" update >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${apt_opts[@]}" install -y --no-install-recommends chromium fonts-noto-cjk >&2

    [[ -x "$CHROMIUM" ]] || die "installed the chromium package, yet $CHROMIUM is missing"
    echo "browser.sh: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)" >&2
}

case "${1:-}" in
install)
    (($# == 1)) || usage
    cmd_install
    ;;
*) usage ;;
esac
