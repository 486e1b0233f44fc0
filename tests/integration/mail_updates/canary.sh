#!/bin/sh
# SPDX-License-Identifier: MIT
# The lab's canary update (tests/integration/mail_updates): builds mailfort-canary VERSION into the flat apt
# repository /srv/mailfort-canary on the host it runs on, and rewrites the repository's Packages and Release files,
# whose Origin (mailfort-canary) and Codename (canary) the lab's mail_updates_extra_origins allows. The package
# holds a file standing for a shared library and a service that maps it as the loader maps one (private, readable and
# executable: needrestart 3.11 looks at no other mapping): an upgrade replaces the file, and the running service
# keeps the old one mapped until it is restarted.
#
#   sh canary.sh VERSION
set -eu
v=$1; repo=/srv/mailfort-canary; work=$(mktemp -d)
mkdir -p "$work/DEBIAN" "$work/usr/lib/mailfort-canary" "$work/usr/lib/systemd/system" "$repo"
cat > "$work/DEBIAN/control" <<CTL
Package: mailfort-canary
Version: $v
Architecture: all
Maintainer: mailfort lab <root@localhost>
Description: lab canary: a library file a service maps
CTL
echo "canary library $v" > "$work/usr/lib/mailfort-canary/libcanary.so.1"
cat > "$work/usr/lib/systemd/system/mailfort-canary.service" <<'UNIT'
[Unit]
Description=mailfort lab canary: maps libcanary.so.1 as a daemon maps a shared library
[Service]
ExecStart=/usr/bin/python3 -c "import mmap, time; f = open('/usr/lib/mailfort-canary/libcanary.so.1', 'rb'); m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_EXEC); time.sleep(10**9)"
UNIT
dpkg-deb --root-owner-group -b "$work" "$repo/mailfort-canary_${v}_all.deb" >/dev/null
rm -rf "$work"
cd "$repo"
: > Packages
for deb in *.deb; do
  dpkg-deb -f "$deb" >> Packages
  printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$deb" "$(stat -c %s "$deb")" "$(sha256sum "$deb" | cut -d' ' -f1)" >> Packages
done
printf 'Origin: mailfort-canary\nLabel: mailfort-canary\nSuite: canary\nCodename: canary\nDate: %s\nSHA256:\n %s %s Packages\n' \
  "$(date -Ru)" "$(sha256sum Packages | cut -d' ' -f1)" "$(stat -c %s Packages)" > Release
