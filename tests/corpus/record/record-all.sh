#!/usr/bin/env bash
# Re-record the whole corpus (or the families named): one venv per family,
# because their pins clash. Offline but for PyPI; spans go only to 127.0.0.1.
# `make corpus` runs this; CI never does (it reads the recorded files).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venvs=${CORPUS_VENVS:-$here/../../../.corpus-venvs}
py=${PYTHON:-python3}
families=("$@")
if [ ${#families[@]} -eq 0 ]; then
  for req in "$here"/requirements-*.txt; do
    f=$(basename "$req" .txt); families+=("${f#requirements-}")
  done
fi
status=0
for family in "${families[@]}"; do
  venv="$venvs/$family"
  if [ ! -x "$venv/bin/python" ] || [ "$here/requirements-$family.txt" -nt "$venv/.installed" ]; then
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q -r "$here/requirements-$family.txt"
    touch "$venv/.installed"
  fi
  script="$here/record_${family//-/_}.py"
  echo "== $family"
  (cd "$here" && "$venv/bin/python" "$script") || status=1
done
exit $status
