#!/usr/bin/env bash
# Throwaway PostgreSQL servers for the tests.
#
#   postgres.sh install     install Debian's `postgresql` package unless an initdb is already
#                           under /usr/lib/postgresql/*/bin (quiet and quick when it is)
#   postgres.sh start DIR   create a new cluster in DIR (absent or empty), start it on
#                           127.0.0.1 on a free port, create the database custos_test, and print
#                           one line to stdout: its SQLAlchemy URL
#   postgres.sh stop DIR    stop the server started in DIR and remove DIR
#
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user that
# Debian's package creates, and DIR is handed to that user. As anyone else it runs as you.
# Authentication is `trust` and the server listens on 127.0.0.1 only: it is for tests, never data.
set -euo pipefail

PG_USER=postgres
# shellcheck source=lib/debian.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian.sh"
DB_NAME=custos_test
MARKER=.custos-test-postgres # written into DIR by start; stop removes only DIRs that have it

die() {
    echo "postgres.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 install | start DIR | stop DIR" >&2
    exit 2
}

# The newest PostgreSQL's bin directory, or nothing.
find_bindir() {
    local initdb
    initdb=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1 || true)
    if [[ -n "$initdb" && -x "$initdb" ]]; then
        dirname "$initdb"
    fi
}

# Runs a command as the user that owns the cluster, from / so that a working directory the
# postgres user cannot read (root's home, say) does not trouble initdb or the server.
as_owner() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u "$PG_USER" -- env LC_ALL=C "$@")
    else
        (cd / && env LC_ALL=C "$@")
    fi
}

have_postgres() { [[ -n "$(find_bindir)" ]]; }

cmd_install() {
    have_postgres && return 0
    debian_install postgresql have_postgres postgresql

    # The package may have created and started its own cluster on port 5432. The tests never
    # use it; stop it so that no server is left running that nobody asked for.
    if command -v pg_lsclusters >/dev/null; then
        local -a sudo=()
        [[ $EUID -ne 0 ]] && sudo=(sudo)
        local version name _
        while read -r version name _; do
            "${sudo[@]}" pg_ctlcluster "$version" "$name" stop >/dev/null 2>&1 || true
        done < <(pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online"')
    fi

    [[ -n "$(find_bindir)" ]] || die "installed the postgresql package, yet found no initdb under /usr/lib/postgresql/*/bin"
    echo "postgres.sh: installed PostgreSQL in $(find_bindir)" >&2
}

cmd_start() {
    local dir=$1
    local bindir
    bindir=$(find_bindir)
    [[ -n "$bindir" ]] || die "PostgreSQL is not installed: run '$0 install' first"

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    [[ -z "$(ls -A "$dir")" ]] || die "$dir is not empty; start needs a new or empty directory"
    # The path goes into the server's command line; keep it to characters that need no quoting.
    [[ "$dir" =~ ^[A-Za-z0-9._/+-]+$ ]] || die "$dir: use a path of letters, digits and ._/+- only"
    # A unix socket's path is limited to 107 bytes: $dir/.s.PGSQL.NNNNN must fit.
    ((${#dir} <= 90)) || die "$dir is too long a path for the server's unix socket (90 characters at most)"

    if [[ $EUID -eq 0 ]]; then
        id -u "$PG_USER" >/dev/null 2>&1 || die "there is no '$PG_USER' user to run the server as"
        chown "$PG_USER:" "$dir"
        chmod 700 "$dir"
        as_owner test -w "$dir" ||
            die "user $PG_USER cannot reach $dir: choose a directory whose parents it can enter (under /tmp, say)"
    fi
    as_owner touch "$dir/$MARKER"

    local data=$dir/data log=$dir/server.log
    if ! as_owner "$bindir/initdb" -D "$data" -U "$PG_USER" -A trust \
        --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        die "initdb failed"
    fi

    # Try random ports below the ephemeral range until the server binds one.
    local port attempt started=
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        port=$((20000 + RANDOM % 12000))
        # Something already listens there: pick again without trying.
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            continue
        fi
        as_owner truncate -s 0 "$dir/server.log" 2>/dev/null || true
        if as_owner "$bindir/pg_ctl" start -D "$data" -l "$log" -w -t 60 -s -o \
            "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir'" \
            >/dev/null 2>&1; then
            started=1
            break
        fi
        grep -q 'could not bind\|Address already in use' "$log" 2>/dev/null ||
            break # a failure that another port will not fix
        echo "postgres.sh: port $port was taken (attempt $attempt), trying another" >&2
    done
    if [[ -z "$started" ]]; then
        cat "$log" >&2 || true
        die "the server in $dir did not start"
    fi

    # From here on, a failure must not leave the server running.
    # shellcheck disable=SC2064 # expand the paths now, while they are set
    trap "as_owner '$bindir/pg_ctl' stop -D '$data' -m immediate -s >/dev/null 2>&1 || true" EXIT

    local i
    for ((i = 0; i < 300; i++)); do
        "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PG_USER" && break
        sleep 0.1
    done
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PG_USER" ||
        die "the server in $dir started but does not accept connections on 127.0.0.1:$port"
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$PG_USER" "$DB_NAME" ||
        die "could not create the database $DB_NAME"

    trap - EXIT
    echo "postgresql+psycopg://$PG_USER@127.0.0.1:$port/$DB_NAME"
}

# True if the postmaster named in DATA/postmaster.pid is alive (not gone, not a zombie).
postmaster_alive() {
    local pid state
    [[ -f "$1/postmaster.pid" ]] || return 1
    read -r pid <"$1/postmaster.pid" || return 1
    [[ "$pid" =~ ^[0-9]+$ && "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] || return 1
    state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d ' ' -f 1)
    [[ -n "$state" && "$state" != Z ]]
}

cmd_stop() {
    local dir=$1
    [[ -d "$dir" ]] || return 0 # already gone
    [[ -e "$dir/$MARKER" ]] || die "$dir was not made by '$0 start'; not touching it"

    local bindir data=$dir/data
    bindir=$(find_bindir)
    if postmaster_alive "$data"; then
        [[ -n "$bindir" ]] || die "a server runs in $dir, but there is no pg_ctl to stop it"
        if ! as_owner "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 60 -s; then
            echo "postgres.sh: fast shutdown failed; shutting down immediately" >&2
            as_owner "$bindir/pg_ctl" stop -D "$data" -m immediate -w -t 60 -s || true
        fi
        ! postmaster_alive "$data" || die "could not stop the server in $dir"
    fi
    rm -rf -- "$dir"
}

case "${1:-}" in
install)
    (($# == 1)) || usage
    cmd_install
    ;;
start)
    (($# == 2)) || usage
    cmd_start "$2"
    ;;
stop)
    (($# == 2)) || usage
    cmd_stop "$2"
    ;;
*) usage ;;
esac
