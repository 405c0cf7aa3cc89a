# Sourced by scripts/test-host.sh and scripts/test-fresh.sh: a pristine Debian 12 (bookworm)
# minbase root, debootstrapped from this machine's Debian mirror and cached for a week.
# shellcheck shell=bash

DEBIAN_ROOT_CACHE=${DEBIAN_ROOT_CACHE:-/var/cache/camcloud-test-host/bookworm-minbase.tar}

# debian_mirror: the mirror this machine's apt uses (deb822 or one-line sources), or nothing.
debian_mirror() {
  local mirror
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "$mirror"
}

# debian_root ROOT MIRROR LOG: fill the empty directory ROOT with bookworm (from the cache when
# it is younger than a week; a fresh debootstrap takes ~2-4 minutes), give it this machine's
# apt sources and extra CA certificates (a network that inspects TLS), and make it 0755.
debian_root() {
  local root=$1 mirror=$2 log=$3
  if [ -f "$DEBIAN_ROOT_CACHE" ] && [ -z "$(find "$DEBIAN_ROOT_CACHE" -mtime +7)" ]; then
    echo "bookworm from the debootstrap cache $DEBIAN_ROOT_CACHE"
    tar -xf "$DEBIAN_ROOT_CACHE" -C "$root"
  else
    echo "debootstrap bookworm from $mirror"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates,procps \
      bookworm "$root" "$mirror" >"$log" 2>&1 || { tail -n 20 "$log"; return 1; }
    install -d "$(dirname "$DEBIAN_ROOT_CACHE")"
    tar -cf "$DEBIAN_ROOT_CACHE.new" -C "$root" . && mv -f "$DEBIAN_ROOT_CACHE.new" "$DEBIAN_ROOT_CACHE"
  fi
  # mktemp made ROOT 0700 (and the cache keeps that): no unprivileged user could enter it.
  chmod 0755 "$root"
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1 || { echo "update-ca-certificates failed"; return 1; }
  fi
}
