#!/usr/bin/env bash
# Autograde a whole class on a Slurm cluster: one array task per shard of the submissions, then one merge job.
#
#   grader/cluster/slurm_autograde.sh [--wait] SUBS WORK SHARDS [extra autograde args...]
#
#   SUBS    submissions, laid out SUBS/<student>/<lab>/<lab>.ipynb (on a file system the compute nodes share)
#   WORK    the class's work folder (shared too): shard I grades into WORK/shards/I, the merged gradebook and
#           WORK/grades.csv end up in WORK itself, Slurm's logs in WORK/slurm/
#   SHARDS  how many array tasks to split the class into
#   --wait  block until the merge job has finished, and exit with its status (see 2. below)
#   extra   passed on to `python -m grader autograde` (e.g. --labs lab00_video_as_data, --jobs 4)
#
# Resources of each shard task: AUTOGRADE_CPUS (default 2) CPUs, AUTOGRADE_MEM (default 8G) memory; a shard grades
# as many notebooks at once as it has CPUs (--jobs; an explicit --jobs among the extra arguments wins). Partition,
# account and time limit come from sbatch's own variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT).
set -euo pipefail

wait_flag=()
if [[ ${1:-} == --wait ]]; then
    wait_flag=(--wait)
    shift
fi
if (($# < 3)) || [[ ! $3 =~ ^[1-9][0-9]*$ ]]; then
    sed -n '2,16s/^# \{0,1\}//p' "$0" >&2  # the usage above
    exit 2
fi

# Jobs run from the repository root with its .venv, wherever this script is called from; both folders are made
# absolute so that the jobs find them from there.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=$root/.venv/bin/python
[[ -x $python ]] || { echo "no $python: run \`make setup\` in $root first" >&2; exit 2; }
subs=$(realpath -e "$1")
work=$(realpath -m "$2")
shards=$3
shift 3
mkdir -p "$work/shards" "$work/slurm"
rm -f "$work"/slurm/shard-*.ok  # markers of a previous run (see below)

cpus=${AUTOGRADE_CPUS:-2}
mem=${AUTOGRADE_MEM:-8G}
extra=$(printf ' %q' --jobs "$cpus" "$@")  # shell-quoted, for the job scripts below
# What every job starts with: the repository root, the hub libraries offline (as `make` runs them).
prologue="set -u; cd $(printf %q "$root"); export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg"
q() { printf %q "$1"; }

# 1. The shards: array task I grades shard I/SHARDS into WORK/shards/I. Exit status 1 means "graded, but some
# submissions could not be" (recorded in the results like any grade), so the task still succeeds; it then leaves
# WORK/slurm/shard-I.ok behind. Any other status is a crash: the task fails and leaves no marker.
array_id=$(sbatch --parsable --job-name=autograde-shards --array="0-$((shards - 1))" \
    --cpus-per-task="$cpus" --mem="$mem" --output="$work/slurm/shard-%A_%a.out" <<EOF
#!/bin/bash
$prologue
i=\$SLURM_ARRAY_TASK_ID
$(q "$python") -m grader --work $(q "$work")/shards/\$i autograde $(q "$subs") --shard \$i/$shards$extra
status=\$?
if [ \$status -eq 1 ]; then status=0; fi
if [ \$status -eq 0 ]; then touch $(q "$work")/slurm/shard-\$i.ok; fi
exit \$status
EOF
)
array_id=${array_id%%;*}  # --parsable prints "id" or "id;cluster"
echo "shard array job: $array_id ($shards tasks, $cpus CPUs and $mem each; logs in $work/slurm/)"

# 2. The merge: once every shard has ended, however it ended (afterany), merge the shards that got results into
# WORK, print the grade table and write WORK/grades.csv. Its exit status, which --wait passes on: 0 every
# submission graded; 1 some could not be (listed in the table: a normal outcome); 3 a shard did not finish (what
# there is still gets merged, but a missing part of the class is never taken for the whole); other: a crash.
merge_script=$(cat <<EOF
#!/bin/bash
$prologue
status=0 missing= finished=()
for ((i = 0; i < $shards; i++)); do
    [ -e $(q "$work")/slurm/shard-\$i.ok ] || missing="\$missing \$i"
    [ -d $(q "$work")/shards/\$i/results ] && finished+=($(q "$work")/shards/\$i)
done
if [ \${#finished[@]} -gt 0 ]; then
    $(q "$python") -m grader --work $(q "$work") merge "\${finished[@]}"
    status=\$?
    if [ \$status -gt 1 ]; then exit \$status; fi
    $(q "$python") -m grader --work $(q "$work") export --to $(q "$work")/grades.csv || exit
fi
if [ -n "\$missing" ]; then echo "shards that did not finish (see their logs):\$missing" >&2; exit 3; fi
exit \$status
EOF
)
# With --wait, sbatch prints the id at once and then blocks until the merge job ends, exiting with its status.
sbatch --parsable "${wait_flag[@]}" --job-name=autograde-merge --dependency="afterany:$array_id" \
    --cpus-per-task=1 --mem=2G --output="$work/slurm/merge-%j.out" <<<"$merge_script" |
    while read -r merge_id; do echo "merge job: ${merge_id%%;*} (grades in $work/grades.csv)"; done
