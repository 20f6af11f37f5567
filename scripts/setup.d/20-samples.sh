#!/usr/bin/env bash
# scripts/setup.d/20-samples.sh — sample photos for tests and the demo, from
# Debian's python3-skimage package (scikit-image data, BSD-3-Clause; see
# /usr/share/doc/python3-skimage/copyright inside the .deb).
#
# `apt-get download` fetches the .deb (authenticated by apt's signed archive
# metadata) into $CCC_CACHE once; only the listed images are unpacked into
# data/samples/. Every file, the .deb included, must match
# tests/vectors/samples/SHA256SUMS (the single source of expected values).
#   chelsea.png             one cat (the only one)
#   astronaut, coffee, rocket, camera (grey), hubble_deep_field, motorcycle_left
#                           no cats
set -euo pipefail
: "${CCC_ROOT:?}" "${CCC_CACHE:?}"
mkdir -p "$CCC_CACHE"
DEB_NAME=python3-skimage_0.19.3-8_all.deb
DEB_VERSION=0.19.3-8
DEB="$CCC_CACHE/$DEB_NAME"
SUMS="$CCC_ROOT/tests/vectors/samples/SHA256SUMS"
DEST="$CCC_ROOT/data/samples"
IMAGES=(chelsea.png astronaut.png coffee.png rocket.jpg camera.png
        hubble_deep_field.jpg motorcycle_left.png)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[1;31merror: %s\033[0m\n' "$*" >&2; exit 1; }

# Check the given files (in the current directory) against SUMS.
check() { grep -E "  ($(IFS='|'; echo "$*" | sed 's/\./\\./g; s/ /|/g'))\$" "$SUMS" |
          sha256sum --quiet --check - >/dev/null 2>&1; }

if [ -d "$DEST" ] && (cd "$DEST" && check "${IMAGES[@]}"); then
  say "samples: data/samples present and verified"
  exit 0
fi

if [ ! -f "$DEB" ] || ! (cd "$CCC_CACHE" && check "$DEB_NAME"); then
  say "samples: fetching python3-skimage=$DEB_VERSION with apt-get download"
  tmp=$(mktemp -d "$CCC_CACHE/deb.XXXXXX")
  fetch() { (cd "$tmp" && apt-get download -q "python3-skimage=$DEB_VERSION" >/dev/null 2>&1); }
  # A machine with every package installed may still have empty or stale apt
  # lists (setup only updates them when it installs): refresh once and retry.
  if ! fetch; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq || true
    fetch || { rm -rf "$tmp"; die "apt-get download python3-skimage=$DEB_VERSION failed"; }
  fi
  mv -f "$tmp/$DEB_NAME" "$DEB"
  rm -rf "$tmp"
  (cd "$CCC_CACHE" && check "$DEB_NAME") ||
    die "SHA-256 of $DEB does not match $SUMS (delete it to fetch again)"
fi

work=$(mktemp -d "$CCC_CACHE/samples.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb --fsys-tarfile "$DEB" |
  tar -x -C "$work" $(printf './usr/lib/python3/dist-packages/skimage/data/%s ' "${IMAGES[@]}") ||
  die "cannot unpack the sample images from $DEB"
src="$work/usr/lib/python3/dist-packages/skimage/data"
(cd "$src" && check "${IMAGES[@]}") || die "sample image SHA-256 mismatch against $SUMS"
mkdir -p "$DEST"
for f in "${IMAGES[@]}"; do
  mv -f "$src/$f" "$DEST/$f"
done
say "samples: installed ${#IMAGES[@]} photos in data/samples (SHA-256 verified)"
