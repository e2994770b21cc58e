#!/usr/bin/env bash
# Run a command beside a throwaway PostgreSQL server: `tests/pg_cluster.sh CMD [ARGS...]`.
#
# Creates a cluster in a new temporary folder (initdb; owned by the `postgres` user when run as
# root, since PostgreSQL refuses to run as root), starts it listening on a Unix socket in that
# folder only (no TCP port, so nothing clashes with another server on the machine), runs CMD with
# ARCHIVE_TEST_DATABASE_URL pointing at it, then stops the server and deletes the folder, also when
# CMD fails or is interrupted. Exits with CMD's status. Durability is off (fsync, synchronous
# commit): the data is thrown away anyway. Needs Debian's `postgresql` package (make system-packages).
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "pg_cluster.sh: no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 2
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/archive-pg.XXXXXX")
chmod 755 "$dir"
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$dir"
  # From inside the folder: the postgres user may not be allowed into the caller's directory.
  as_owner() { (cd "$dir" && runuser -u postgres -- "$@"); }
else
  as_owner() { "$@"; }
fi

stop() {
  status=$?
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM

as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 2; }
options="-c listen_addresses='' -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$options" -w start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 2; }

export ARCHIVE_TEST_DATABASE_URL="postgresql+psycopg://postgres@/postgres?host=$dir"
echo "pg_cluster.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') at $dir" >&2
"$@"
