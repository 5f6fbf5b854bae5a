# A throwaway PostgreSQL cluster for the tests, sourced by .ci/run (or by hand:
#   source .ci/postgres.sh && pg_test_start && npm test; pg_test_stop).
# pg_test_start installs Debian's postgresql when it is missing, runs initdb in a temporary directory
# (as the postgres user when we are root: initdb refuses to run as root), starts the server on
# 127.0.0.1 on a free port with password authentication over TCP, and exports
# STRIPE_CREDITS_TEST_PG, the URL the tests create their databases through. The server also takes
# TLS with a certificate for "localhost" from a throwaway CA (STRIPE_CREDITS_TEST_PG_CA, for the
# sslmode tests). pg_test_stop stops it and removes the directory.

pg_test_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

pg_test_start() {
  if [ -z "$(pg_test_bindir)" ] || [ ! -x "$(pg_test_bindir)/initdb" ]; then
    echo "installing PostgreSQL from Debian's packages" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local bin
  bin="$(pg_test_bindir)"
  PG_TEST_DIR="$(mktemp -d /tmp/sc-pg.XXXXXX)"
  export PG_TEST_DIR
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PG_TEST_DIR"
    as=(runuser -u postgres --)
  fi
  local port password
  port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  password="$(node -e 'console.log(require("crypto").randomBytes(12).toString("hex"))')"
  (umask 077 && echo "$password" >"$PG_TEST_DIR/pw")
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_TEST_DIR/pw"
  "${as[@]}" "$bin/initdb" -D "$PG_TEST_DIR/data" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 --pwfile="$PG_TEST_DIR/pw" >"$PG_TEST_DIR/initdb.log" 2>&1 \
    || { cat "$PG_TEST_DIR/initdb.log" >&2; return 1; }
  # A CA and a server certificate for "localhost", so that TLS is tested too.
  local tls="$PG_TEST_DIR/tls"
  mkdir -p "$tls"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/ca.key" -out "$tls/ca.pem" -days 3 -subj "/CN=stripe-credits test CA" &&
      openssl req -newkey rsa:2048 -nodes -keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=localhost" &&
      printf 'subjectAltName=DNS:localhost\n' >"$tls/ext" &&
      openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -out "$tls/server.crt" -days 3 -extfile "$tls/ext"
  } >"$PG_TEST_DIR/tls.log" 2>&1 || { cat "$PG_TEST_DIR/tls.log" >&2; return 1; }
  chmod 600 "$tls/server.key"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$tls/server.key" "$tls/server.crt"
  # Durability is not wanted here: a throwaway cluster, fast CREATE DATABASE and commits.
  "${as[@]}" "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TEST_DIR -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key" >/dev/null \
    || { cat "$PG_TEST_DIR/server.log" >&2; return 1; }
  export STRIPE_CREDITS_TEST_PG="postgres://postgres:$password@127.0.0.1:$port/postgres"
  export STRIPE_CREDITS_TEST_PG_CA="$tls/ca.pem"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') for the tests on 127.0.0.1:$port ($PG_TEST_DIR)" >&2
}

pg_test_stop() {
  [ -n "${PG_TEST_DIR:-}" ] || return 0
  local as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$(pg_test_bindir)/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TEST_DIR"
  PG_TEST_DIR=
}
