#!/usr/bin/env bash
# Replays the Dockerfile without Docker, then smoke-tests the runtime stage as the image would run it.
#
# Each stage is a chroot whose system directories (/usr, /etc, /bin, /lib…) are the host's, mounted read-only, in
# place of node:20-bookworm-slim, and whose /app and /tmp are the stage's own. The context is a clone of the
# committed HEAD (what a fresh clone holds); the Dockerfile is the working tree's. COPY, WORKDIR, ENV, USER and RUN
# are replayed; RUN lines that install Debian packages are skipped (the host provides them). The runtime stage then
# runs as uid 1000 ("node", as in the image) with only its ENV: --help, migrate (default SQLite path) twice,
# serve + the HEALTHCHECK command + /readyz + SIGTERM, the default CMD (all), and serve on a read-only /app with the
# state on a separate writable mount (Kubernetes' readOnlyRootFilesystem). Sizes are printed at the end.
#
# Needs: root (mount namespaces, chroot), unshare, setpriv, curl, Redis at REDIS_URL (default 127.0.0.1:6379).
# PostgreSQL on 127.0.0.1:5432 is the catalog's target (reported by /readyz, not required).
# Usage: scripts/image-dry-run.sh [output dir, default /tmp/db-access-image-dry-run]   (KEEP=1 keeps it)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/db-access-image-dry-run}
dockerfile=${DOCKERFILE:-$repo/Dockerfile}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
port=${DRY_RUN_PORT:-39170}
prefix="image-dry-run-$$"
[ "$(id -u)" = 0 ] || { echo "run as root (chroot, mount namespaces)" >&2; exit 2; }

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
failures=0

rm -rf "$out" && mkdir -p "$out"
git clone -q "$repo" "$out/ctx"
say "context: $(git -C "$out/ctx" log --oneline -1)"

# /etc/passwd and /etc/group with the image's "node" user (uid/gid 1000), bind-mounted over the host's inside chroots.
cp /etc/passwd "$out/passwd" && cp /etc/group "$out/group"
grep -q '^node:' "$out/passwd" || echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$out/passwd"
grep -q '^node:' "$out/group" || echo 'node:x:1000:' >>"$out/group"

# in_stage <stage dir> <workdir> <uid> <ro:0|1> <extra bind "src:dst" or ""> -- command…  (the inner bash and
# chroot exec, so the exit status is the command's).
in_stage() {
  local fs=$1 wd=$2 uid=$3 ro=$4 extra=$5; shift 6
  local root="$fs.root"
  mkdir -p "$root" "$fs/tmp" "$fs/app" && chmod 1777 "$fs/tmp"
  unshare -m --propagation private -- bash -c '
    set -e; fs=$1 root=$2 wd=$3 uid=$4 ro=$5 extra=$6 out=$7; shift 7
    for d in usr bin sbin lib lib32 lib64 libx32 etc; do
      [ -e "/$d" ] || continue
      if [ -L "/$d" ]; then ln -sfn "$(readlink "/$d")" "$root/$d"; continue; fi
      mkdir -p "$root/$d"; mount --bind "/$d" "$root/$d"; mount -o remount,bind,ro "$root/$d"
    done
    for d in dev proc root home tmp app; do mkdir -p "$root/$d"; done
    mount --rbind /dev "$root/dev"; mount -t proc proc "$root/proc"
    mount --bind /root "$root/root"        # npm cache and registry settings for the build stage
    mount --bind "$fs/tmp" "$root/tmp"; mount --bind "$fs/app" "$root/app"
    if [ "$ro" = 1 ]; then mount -o remount,bind,ro "$root/app"; mount -o remount,bind,ro "$root/tmp"; fi
    if [ -n "$extra" ]; then mkdir -p "$root${extra#*:}"; mount --bind "${extra%%:*}" "$root${extra#*:}"; fi
    mount --bind "$out/passwd" "$root/etc/passwd"; mount --bind "$out/group" "$root/etc/group"
    if [ "$uid" = 0 ]; then exec chroot "$root" /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$wd" "$@"; fi
    exec chroot --userspec="$uid:$uid" "$root" /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$wd" "$@"
  ' _ "$fs" "$root" "$wd" "$uid" "$ro" "$extra" "$out" "$@"
}

# ---- replay the Dockerfile ------------------------------------------------------------------------------------
declare -A stage_fs
stage=-1 workdir=/ user=0 entrypoint= cmd= healthcheck= envs=()
abs() { case $1 in /*) echo "$1" ;; *) echo "${workdir%/}/$1" ;; esac; }
while IFS= read -r line; do
  set -f; set -- $line; set +f
  instr=${1^^}; shift; rest=${line#* }
  case $instr in
    FROM)
      stage=$((stage + 1)); fs="$out/stage$stage"; mkdir -p "$fs"
      stage_fs[$stage]=$fs; [ "${2:-}" != "" ] && [ "${2^^}" = AS ] && stage_fs[$3]=$fs
      workdir=/ user=0 envs=(); say "stage $stage: FROM $rest (host system dirs stand in for it)" ;;
    WORKDIR) workdir=$(abs "$1"); mkdir -p "$fs$workdir" ;;
    ENV) envs+=("$rest") ;;
    USER) user=$(awk -F: -v u="$1" '$1 == u { print $3 }' "$out/passwd"); user=${user:-$1} ;;
    COPY)
      from= chown=
      while [[ $1 == --* ]]; do case $1 in --from=*) from=${1#--from=} ;; --chown=*) chown=${1#--chown=} ;; esac; shift; done
      args=("$@"); dest=$(abs "${args[-1]}"); unset 'args[-1]'
      for src in "${args[@]}"; do
        if [ -n "$from" ]; then s="${stage_fs[$from]}$(abs "$src")"; else s="$out/ctx/$src"; fi
        [ -e "$s" ] || { fail "COPY $rest: $src not found"; continue; }
        if [[ $dest == */ ]]; then mkdir -p "$fs$dest"; cp -a "$s" "$fs$dest"; else mkdir -p "$(dirname "$fs$dest")"; cp -a "$s" "$fs$dest"; fi
      done
      [ -z "$chown" ] || fail "COPY --chown is not replayed by this script" ;;
    RUN)
      if [[ $rest == *apt-get* ]]; then echo "skipped (Debian packages; the host has them): RUN ${rest:0:80}…"; continue; fi
      echo "RUN ${rest:0:110}"
      in_stage "$fs" "$workdir" "$user" 0 "" -- /usr/bin/env "${envs[@]}" PATH=/usr/local/bin:/usr/bin:/bin HOME=/root /bin/sh -c "$rest" </dev/null \
        || { fail "RUN $rest"; break; } ;;
    ENTRYPOINT) entrypoint=$rest ;;
    CMD) cmd=$rest ;;
    HEALTHCHECK) healthcheck=${rest#*CMD } ;;
  esac
done < <(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile" | grep -vE '^\s*(#|$)')
[ "$failures" = 0 ] || { echo "build replay failed" >&2; exit 1; }

rt=${stage_fs[$stage]} rt_wd=$workdir rt_user=$user rt_envs=("${envs[@]}")
mapfile -t ep < <(node -e 'for (const a of JSON.parse(process.argv[1])) console.log(a)' "$entrypoint")
mapfile -t default_cmd < <(node -e 'for (const a of JSON.parse(process.argv[1])) console.log(a)' "$cmd")
[ "$rt_user" != 0 ] || fail "the runtime stage runs as root"

cat >"$rt/tmp/catalog.yaml" <<'EOF'
databases:
  - name: dry-run-pg
    engine: postgres
    host: 127.0.0.1
    port: 5432
    database: postgres
    admin: { user: postgres, password: "${DRY_RUN_PG_PASSWORD}" }
    levels:
      read: { roles: [pg_read_all_data] }
    maxDuration: 1h
    approval:
      approvers:
        - email: approver@example.com
EOF
chmod 644 "$rt/tmp/catalog.yaml"
test_env=(PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/node "${rt_envs[@]}" REDIS_URL="$redis_url" QUEUE_PREFIX="$prefix"
  PORT="$port" CATALOG_PATH=/tmp/catalog.yaml DRY_RUN_PG_PASSWORD=unused LOG_LEVEL=warn)
run_rt() { local ro=$1 extra=$2; shift 3; in_stage "$rt" "$rt_wd" "$rt_user" "$ro" "$extra" -- /usr/bin/env -i "${test_env[@]}" "$@"; }

# serve_check <label> <ro> <extra bind> <env…> -- <args…>: start, wait for /healthz, run HEALTHCHECK, /readyz, SIGTERM.
serve_check() {
  local label=$1 ro=$2 extra=$3; shift 3
  local envs=(); while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  say "$label"
  if curl -s "http://127.0.0.1:$port/" >/dev/null 2>&1; then fail "$label: port $port is already taken"; return; fi
  run_rt "$ro" "$extra" -- "${envs[@]}" "${ep[@]}" "$@" >"$out/$label.log" 2>&1 &
  local wrapper=$! pid= ok=
  for _ in $(seq 1 120); do
    if [ -z "$pid" ]; then   # the node process itself: the one whose root is this stage's chroot
      for p in $(pgrep -f 'main\.js' || true); do [ "$(readlink "/proc/$p/root" 2>/dev/null)" = "$rt.root" ] && pid=$p; done
    fi
    [ -n "$pid" ] && curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && { ok=1; break; }
    kill -0 $wrapper 2>/dev/null || break; sleep 0.25
  done
  if [ -z "$ok" ]; then fail "$label: /healthz never answered"; cat "$out/$label.log"; [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; wait $wrapper 2>/dev/null || true; return; fi
  if in_stage "$rt" "$rt_wd" "$rt_user" "$ro" "$extra" -- /usr/bin/env -i "${test_env[@]}" /bin/sh -c "$healthcheck"; then
    echo "HEALTHCHECK: exit 0"; else fail "$label: HEALTHCHECK command failed"; fi
  echo "/readyz: $(curl -s -w ' (%{http_code})' "http://127.0.0.1:$port/readyz")"
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || fail "$label: /readyz not 200"
  kill -TERM "$pid"; local t0=$SECONDS rc=0
  wait $wrapper || rc=$?
  echo "SIGTERM: exit $rc after $((SECONDS - t0))s"; [ $rc = 0 ] || fail "$label: exit $rc on SIGTERM"
  grep -E '"level":(40|50|60)|error' "$out/$label.log" | cut -c1-300 || true
}

say "runtime stage as uid $rt_user: ${ep[*]} --help"
run_rt 0 "" -- "${ep[@]}" --help >/dev/null && echo ok || fail "--help"

say "migrate with the default DATABASE_URL (twice)"
run_rt 0 "" -- "${ep[@]}" migrate || fail "migrate (default DATABASE_URL)"
run_rt 0 "" -- "${ep[@]}" migrate || fail "migrate again"

serve_check serve 0 "" -- serve
serve_check "default-cmd-${default_cmd[*]}" 0 "" -- "${default_cmd[@]}"

mkdir -p "$out/volume" && chown 1000:1000 "$out/volume"
run_rt 1 "$out/volume:/var/lib/db-access" -- DATABASE_URL=sqlite:/var/lib/db-access/state.sqlite "${ep[@]}" migrate >/dev/null \
  || fail "migrate on a read-only /app"
serve_check "read-only-app" 1 "$out/volume:/var/lib/db-access" DATABASE_URL=sqlite:/var/lib/db-access/state.sqlite -- all

say "sizes (runtime stage, /app)"
du -sh "$rt/app/node_modules" "$rt/app/dist" "$rt/app"
if command -v redis-cli >/dev/null; then
  redis-cli -u "$redis_url" --scan --pattern "$prefix:*" | xargs -r redis-cli -u "$redis_url" del >/dev/null || true
fi
[ -n "${KEEP:-}" ] || rm -rf "$out"
if [ "$failures" = 0 ]; then say "image dry run: OK"; else say "image dry run: $failures failure(s)"; exit 1; fi
