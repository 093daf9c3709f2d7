#!/bin/bash
# A consistency study spread over a Slurm job array, one shard per task, into one study folder
# on a shared file system; merge it once the array has finished:
#   sbatch scripts/consistency_slurm.sh
#   sbatch --dependency=afterany:<array job id> --wrap "ista-nas consistency --merge $STUDY"
# Settings: STUDY (the shared folder), DATA (CIFAR-10), SEEDS, TRAIN_EPOCHS; the array size is
# the shard count.
#SBATCH --job-name=ista-consistency
#SBATCH --array=0-7
#SBATCH --gres=gpu:1
#SBATCH --time=2-00:00:00
set -euo pipefail
STUDY=${STUDY:-/shared/studies/ista-paper}
DATA=${DATA:-/shared/cifar10}
ista-nas consistency --scale paper --data "$DATA" --searches "${SEEDS:-16}" \
    --train-epochs "${TRAIN_EPOCHS:-100}" --out "$STUDY" \
    --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT"
