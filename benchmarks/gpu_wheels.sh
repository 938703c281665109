#!/usr/bin/env bash
# The book's Jupyter stack (papermill, jupytext, ipykernel and what they need) as wheels for a GPU machine's own
# Python. Such a machine (the lent H200 here; KINDS of /work-style images) has torch, torchvision, matplotlib,
# pandas, seaborn and scikit-learn but no papermill, jupytext or ipykernel, and cannot reach the package index,
# so the `book` step of benchmarks/gpu_session.sh needs them carried. Run this where pip reaches the index, from
# the repository root:
#
#     bash benchmarks/gpu_wheels.sh                 # -> .whl/ (gitignored), about 15 MB, for CPython 3.12
#     PYVER=3.11 WHEELS=/some/dir bash benchmarks/gpu_wheels.sh
#
# then carry .whl to the GPU machine (device `run` with carry [".whl"]); gpu_session.sh installs them into a
# scratch folder (SITE, default /tmp/asen-site) when its Python cannot import papermill, jupytext and ipykernel.
# The packages such an image already has (listed in ALREADY; requests, PyYAML, tqdm, ...) are left out, so the
# carried copies never shadow the image's own versions of them.
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${PYVER:-3.12}
WHEELS=${WHEELS:-.whl}
STACK=${STACK:-papermill==2.7.0 jupytext==1.19.6 ipykernel==7.4.0 nbclient==0.11.0}
ALREADY=${ALREADY:-attrs certifi charset_normalizer click idna packaging psutil pygments python_dateutil pyyaml
requests tqdm typing_extensions urllib3 tzdata six numpy}
platforms=()
for p in manylinux_2_28 manylinux_2_27 manylinux_2_26 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux_2_5 \
         manylinux1; do platforms+=(--platform "${p}_x86_64"); done
rm -rf "$WHEELS"
mkdir -p "$WHEELS"
# shellcheck disable=SC2086
python3 -m pip download -q --only-binary=:all: --python-version "$PYVER" --implementation cp "${platforms[@]}" \
  -d "$WHEELS" $STACK
for name in $ALREADY; do rm -f "$WHEELS/$name"-[0-9]*.whl; done
for needed in papermill jupytext ipykernel nbclient jupyter_client pyzmq; do
  ls "$WHEELS/$needed"-[0-9]*.whl > /dev/null 2>&1 || { echo "error: no $needed wheel in $WHEELS" >&2; exit 1; }
done
echo "$(ls "$WHEELS" | wc -l) wheels, $(du -sh "$WHEELS" | cut -f1), in $WHEELS for CPython $PYVER"
