#!/usr/bin/env bash
# The Debian package and the service contract (cmake/Packaging.cmake, packaging/):
#   1. cpack builds the .deb in a scratch directory;
#   2. its control data: Depends computed from the binary, the conffile, the maintainer scripts;
#   3. its files, extracted: the binary runs, the shipped config passes check-config, the unit
#      passes `systemd-analyze verify` and the offline security review (when systemd-analyze is here);
#   4. the maintainer scripts, run against stand-ins of adduser, dpkg-statoverride and systemctl;
#   5. `dpkg --root` unpacks it into a scratch root and registers the conffile;
#   6. sd_notify: READY=1 once the port answers, STOPPING=1 on SIGTERM (notify_test.py);
#   7. the Dockerfile is built when `docker info` works.
# Needs SWITCHBOARD_BIN and SWITCHBOARD_BUILD_DIR (set by ctest).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
: "${SWITCHBOARD_BIN:?}" "${SWITCHBOARD_BUILD_DIR:?}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

step "cpack"
(cd "$SWITCHBOARD_BUILD_DIR" && cpack -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1) \
  || { cat "$scratch/cpack.log"; fail "cpack"; }
debs=("$scratch"/out/switchboard_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one switchboard_*.deb, got: ${debs[*]}"
deb=${debs[0]}
echo "$(basename "$deb"): $(stat -c %s "$deb") bytes"

step "control data"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = switchboard ] || fail "Package: $(field Package)"
depends=$(field Depends)
echo "Depends: $depends"
# Computed by dpkg-shlibdeps from the binary, plus adduser for postinst.
for dep in adduser libc6 libssl3 libstdc++6 libsqlite3-0 libhiredis; do
  [[ $depends == *"$dep"* ]] || fail "Depends lacks $dep"
done
dpkg-deb -I "$deb" conffiles >"$scratch/conffiles"
[ "$(cat "$scratch/conffiles")" = /etc/switchboard/switchboard.toml ] || fail "conffiles: $(cat "$scratch/conffiles")"
mkdir "$scratch/control"
dpkg-deb -e "$deb" "$scratch/control"
for script in postinst prerm postrm; do
  [ -x "$scratch/control/$script" ] || fail "$script missing or not executable"
  sh -n "$scratch/control/$script" || fail "$script: syntax"
done

step "files"
dpkg-deb -c "$deb" | awk '{print $1, $2, $6}' >"$scratch/listing"
expect_file() {  # path mode owner
  grep -qx -- "$2 $3 ./$1" "$scratch/listing" || fail "./$1 ($2 $3) not in the package: $(grep -- "$1" "$scratch/listing" || true)"
}
expect_file usr/bin/switchboard -rwxr-xr-x root/root
expect_file lib/systemd/system/switchboard.service -rw-r--r-- root/root
expect_file etc/switchboard/switchboard.toml -rw-r--r-- root/root
expect_file usr/share/doc/switchboard/switchboard.example.toml -rw-r--r-- root/root
expect_file usr/share/doc/switchboard/operations.md -rw-r--r-- root/root
# Nothing the server does not need: no headers, static libraries, tests or benchmarks.
if grep -E '\.(a|h|hpp)$|/include/|_test|sb-loadgen' "$scratch/listing"; then fail "unexpected files"; fi

root="$scratch/root"
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/switchboard" --version | grep -q '^switchboard ' || fail "the packaged binary does not run"
"$root/usr/bin/switchboard" check-config --config "$root/etc/switchboard/switchboard.toml" \
  | tee "$scratch/check" | grep -q 'data_dir /var/lib/switchboard' || fail "check-config: $(cat "$scratch/check")"
unit="$root/lib/systemd/system/switchboard.service"
for line in Type=notify User=switchboard ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes \
  CapabilityBoundingSet= AmbientCapabilities= ReadWritePaths=/var/lib/switchboard StateDirectory=switchboard \
  LimitNOFILE=1048576 Restart=on-failure RestartPreventExitStatus=2 \
  "ExecStart=/usr/bin/switchboard serve --config /etc/switchboard/switchboard.toml"; do
  grep -qx -- "$line" "$unit" || fail "the unit lacks '$line'"
done

if command -v systemd-analyze >/dev/null; then
  step "systemd-analyze"
  # verify resolves the unit's dependencies (sysinit.target, ...) and its ExecStart under --root:
  # give the scratch root this machine's units beside ours.
  if [ -d /lib/systemd/system ]; then cp -rn /lib/systemd/system/. "$root/lib/systemd/system/"; fi
  # verify warns about a bad value and still exits 0: any output is a failure.
  systemd-analyze verify --root="$root" /lib/systemd/system/switchboard.service >"$scratch/verify" 2>&1 \
    || { cat "$scratch/verify"; fail "systemd-analyze verify"; }
  [ ! -s "$scratch/verify" ] || { cat "$scratch/verify"; fail "systemd-analyze verify warned"; }
  # The hardening, scored (0 is best, 10 worst): 1.2 when written; above 2.0 something was lost.
  systemd-analyze security --offline=true --threshold=20 --root="$root" /lib/systemd/system/switchboard.service \
    >"$scratch/security" 2>&1 || { cat "$scratch/security"; fail "systemd-analyze security: exposure above 2.0"; }
  tail -1 "$scratch/security"
else
  echo "systemd-analyze not installed: the unit is not verified"
fi

step "maintainer scripts"
# Run against stand-ins that record their arguments, so nothing on this machine changes.
stubs="$scratch/stubs"
mkdir "$stubs"
for tool in adduser dpkg-statoverride deb-systemd-helper deb-systemd-invoke systemctl install getent; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$tool" "$scratch/calls" >"$stubs/$tool"
  chmod +x "$stubs/$tool"
done
# getent finds no user yet, dpkg-statoverride no override yet, was-enabled says "first install".
printf '#!/bin/sh\necho "getent $*" >>"%s"\nexit 2\n' "$scratch/calls" >"$stubs/getent"
printf '#!/bin/sh\necho "dpkg-statoverride $*" >>"%s"\n[ "$1" != --list ]\n' "$scratch/calls" >"$stubs/dpkg-statoverride"
PATH="$stubs:$PATH" sh "$scratch/control/postinst" configure >"$scratch/postinst.out" 2>&1 \
  || { cat "$scratch/postinst.out"; fail "postinst configure"; }
expect_call() { grep -qF -- "$1" "$scratch/calls" || { cat "$scratch/calls"; fail "postinst did not run '$1'"; }; }
expect_call "adduser --system --group --quiet --home /var/lib/switchboard --no-create-home"
expect_call "install -d -o switchboard -g switchboard -m 0750 /var/lib/switchboard"
expect_call "dpkg-statoverride --update --add root switchboard 0640 /etc/switchboard/switchboard.toml"
expect_call "deb-systemd-helper enable switchboard.service"
# An upgrade (the user exists, the override too): no new user, no second override.
: >"$scratch/calls"
printf '#!/bin/sh\necho "getent $*" >>"%s"\n' "$scratch/calls" >"$stubs/getent"
printf '#!/bin/sh\necho "dpkg-statoverride $*" >>"%s"\n' "$scratch/calls" >"$stubs/dpkg-statoverride"
PATH="$stubs:$PATH" sh "$scratch/control/postinst" configure 0.0.9 >/dev/null 2>&1 || fail "postinst upgrade"
if grep -E '^adduser|--add' "$scratch/calls"; then fail "postinst on upgrade re-created the user or the override"; fi
PATH="$stubs:$PATH" sh "$scratch/control/prerm" remove || fail "prerm remove"
PATH="$stubs:$PATH" sh "$scratch/control/postrm" purge || fail "postrm purge"
grep -qF "dpkg-statoverride --remove /etc/switchboard/switchboard.toml" "$scratch/calls" || fail "postrm purge kept the override"

step "dpkg --root"
# Unpacked, not configured: configuring runs postinst inside the root, which needs a Debian system there.
admin="$scratch/dpkg-root"
mkdir -p "$admin/var/lib/dpkg/info" "$admin/var/lib/dpkg/updates"
touch "$admin/var/lib/dpkg/status" "$admin/var/lib/dpkg/available"
dpkg --root="$admin" --force-depends --force-not-root --unpack "$deb" >"$scratch/dpkg.log" 2>&1 \
  || { cat "$scratch/dpkg.log"; fail "dpkg --unpack"; }
dpkg --root="$admin" -s switchboard | grep -qx 'Status: install ok unpacked' || fail "dpkg status: $(dpkg --root="$admin" -s switchboard)"
grep -qx /etc/switchboard/switchboard.toml "$admin/var/lib/dpkg/info/switchboard.conffiles" \
  || fail "the conffile is not registered"
# Until configured, a new conffile waits as .dpkg-new (configuring decides whether it replaces yours).
[ -x "$admin/usr/bin/switchboard" ] && [ -f "$admin/etc/switchboard/switchboard.toml.dpkg-new" ] \
  && [ -f "$admin/lib/systemd/system/switchboard.service" ] || fail "dpkg did not unpack the files"
for script in postinst prerm postrm; do
  [ -x "$admin/var/lib/dpkg/info/switchboard.$script" ] || fail "dpkg did not register $script"
done

step "sd_notify"
/usr/bin/python3 "$here/notify_test.py" "$SWITCHBOARD_BIN"

step "Dockerfile"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker build -q -t switchboard-package-test "$source_dir" || fail "docker build"
  docker image rm switchboard-package-test >/dev/null
else
  echo "SKIP: docker is not usable here (docker info failed): the Dockerfile is not built"
fi

echo "package: all checks passed"
