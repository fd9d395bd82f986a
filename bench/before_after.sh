#!/usr/bin/env bash
# Issue 17's comparison in one run on one machine: bench.serving at an older commit (checked out
# beside this tree in a scratch git worktree, run with this tree's venv), then at this tree.
#   bash bench/before_after.sh OLD_COMMIT [--web-processes N] [other bench.serving options]
# The old commit runs with the bench's defaults for the web server (daphne, one process), since
# older benches have no --web-processes; the other options go to both.
set -euo pipefail
cd "$(dirname "$0")/.."
old="$1"; shift
new_only=(); both=()
while [ $# -gt 0 ]; do
  case "$1" in
    --web-processes) new_only+=("$1" "$2"); shift 2 ;;
    *) both+=("$1"); shift ;;
  esac
done
py="$PWD/.venv/bin/python"
tree="$(mktemp -d)/old"
git worktree add --quiet --detach "$tree" "$old"
trap 'git worktree remove --force "$tree"' EXIT
echo "== before: $(git -C "$tree" log -1 --format='%h %s' | cut -c1-90)"
(cd "$tree" && "$py" -m bench.serving "${both[@]}") | tail -4
echo "== after: $(git log -1 --format='%h %s' | cut -c1-90) (plus uncommitted changes, if any) ${new_only[*]}"
"$py" -m bench.serving "${both[@]}" "${new_only[@]}" | tail -4
