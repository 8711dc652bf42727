# shellcheck shell=bash
# Shared by the test scripts: install Debian packages once, safely, when something is missing.
#
#   debian_install NAME CHECK PACKAGE...
#
# Does nothing if the command CHECK succeeds. Otherwise takes a lock (so two test runs never
# run apt-get at once; the second waits and then finds the packages there), installs the
# packages non-interactively (with sudo when not root) and fails unless CHECK then succeeds.

debian_install() {
    local name=$1 check=$2
    shift 2
    "$check" && return 0

    local -a sudo=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null || die "$name is not installed, and installing it needs root or sudo"
        sudo=(sudo)
    fi

    local lock="${TMPDIR:-/tmp}/custos-${name}-install.lock"
    if exec 9>>"$lock"; then
        flock -w 900 9 || die "timed out waiting for another install of $name"
        "$check" && return 0
    fi

    echo "installing Debian's $* package(s) for $name" >&2
    local -a apt_opts=(-q -o DPkg::Lock::Timeout=600)
    "${sudo[@]}" apt-get "${apt_opts[@]}" update >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${apt_opts[@]}" install -y --no-install-recommends "$@" >&2
    "$check" || die "installed $*, yet $name is still missing"
}
