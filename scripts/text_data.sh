#!/usr/bin/env bash
# The text the studio's text models learn from, from Debian packages (no internet beyond the
# package mirror needed): Jane Austen's six novels (r-cran-janeaustenr, public domain) and the Pang &
# Lee movie-review polarity data (python3-pattern, "for personal use": never copied into git).
# Installing them would pull in R and a Python 2 era library, so they are downloaded and unpacked
# under var/debian/ instead:  bash scripts/text_data.sh   (prints the two folders)
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${STUDIO_VAR_DIR:-var}/debian"
mkdir -p "$dest/debs"
dest="$(cd "$dest" && pwd)"  # absolute, whether STUDIO_VAR_DIR was relative or absolute
for pkg in r-cran-janeaustenr python3-pattern; do
  if ! ls "$dest/debs/${pkg}_"*.deb >/dev/null 2>&1; then
    (cd "$dest/debs" && { apt-get download "$pkg" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get download "$pkg"; }; })
  fi
  dpkg-deb -x "$dest/debs/${pkg}_"*.deb "$dest/root"
done
echo "JANEAUSTENR_DATA=$dest/root/usr/lib/R/site-library/janeaustenr/data"
echo "PANG_LEE_DIR=$dest/root/usr/share/doc/python3-pattern/test/corpora"
