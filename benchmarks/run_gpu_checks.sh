#!/usr/bin/env bash
# All GPU checks in one go (GPU time is scarce): run from the repository root on a CUDA machine.
# Pure-Python dependencies missing there (pytorch-fid, fastcore) can be given as wheels in $WHEELS.
# Each check has its own time limit so one slow compile cannot eat the others; logs go to ${OUT:-gpu_logs}/.
set -u
OUT=${OUT:-gpu_logs}; mkdir -p "$OUT"
WHEELS=${WHEELS:-.carry/wheels}
if [ -d "$WHEELS" ]; then python3 -m pip install -q --no-index --no-deps --target /tmp/dsg_site "$WHEELS"/*.whl; fi
export PYTHONPATH=/tmp/dsg_site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, scipy; print('torch', torch.__version__, 'scipy', scipy.__version__)" | tee -a "$OUT/gpu.txt"
check() { local name=$1 limit=$2; shift 2; echo "== $name (limit ${limit}s): $*"; local t0=$SECONDS
          timeout "$limit" "$@" > "$OUT/$name.log" 2>&1; echo "rc=$? after $((SECONDS - t0)) s" | tee -a "$OUT/$name.log"; tail -25 "$OUT/$name.log"; }
check train_step ${T_TRAIN:-300} python3 benchmarks/train_step.py --compile --profile
check fid_speed ${T_FID:-150} python3 benchmarks/fid_speed.py --n 2000 --weights random
check spade_compile ${T_SPADE:-150} python3 benchmarks/spade_gpu_check.py --batch 64 --crop 64 --extra-nc 1
check pseudo_depth ${T_DEPTH:-60} python3 benchmarks/pseudo_depth_gpu.py
