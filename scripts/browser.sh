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
# shellcheck source=lib/debian.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian.sh"

die() {
    echo "browser.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 install" >&2
    exit 2
}

have_chromium() { [[ -x "$CHROMIUM" ]]; }

cmd_install() {
    debian_install chromium have_chromium chromium fonts-noto-cjk
}

case "${1:-}" in
install)
    (($# == 1)) || usage
    cmd_install
    ;;
*) usage ;;
esac
