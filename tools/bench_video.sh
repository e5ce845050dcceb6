#!/usr/bin/env bash
# End-to-end video benchmark of `emotic predict`: a 720p clip with two people (the shared
# zidane.jpg, 1280x720, shown for FRAMES frames at 30 fps, H.264), read through ffmpeg,
# detected, scored, tracked, drawn and encoded back to H.264. Prints the run's own
# "End to end: N frames in T s = F frames/s" line and the per-stage speed line, for each
# emotion model given (default: the small test model committed in the repo), plus the sizes
# of the model files.
#
#   tools/bench_video.sh                          # yolov5n + the small EMOTIC test model
#   tools/bench_video.sh /tmp/emotic_full         # + a full-width EMOTIC model, e.g. from
#                                                 #   tools/gen_emotic_fixtures.py --full --out /tmp/emotic_full
# Environment: FRAMES (default 60), WEIGHTS (default the shared yolov5n.pt), THREADS (ORT
# threads, default all cores), BIN (an already built `emotic` to time instead of building the
# release binary).
set -euo pipefail
cd "$(dirname "$0")/.."

weights=${WEIGHTS:-../shared/fixtures/yolov5n.pt}
zidane=../shared/fixtures/images/zidane.jpg
frames=${FRAMES:-60}
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(crates/emotic/tests/data/emotic_small)
for f in "$weights" "$zidane"; do
    [ -f "$f" ] || { echo "bench_video: $f is missing" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ffmpeg -hide_banner -loglevel error -nostdin -y -loop 1 -i "$zidane" -frames:v "$frames" -r 30 \
    -c:v libx264 -pix_fmt yuv420p "$work/zidane720.mp4"
ffprobe -v error -select_streams v:0 -show_entries stream=width,height,r_frame_rate,nb_frames \
    -of compact=p=0 "$work/zidane720.mp4" | sed 's/^/clip: /'

if [ -n "${BIN:-}" ]; then
    bin=$BIN
else
    cargo build --release -q -p emotic-cli
    bin=target/release/emotic
fi
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "detector: $weights ($(du -h "$weights" | cut -f1))"
run() {
    local label=$1; shift
    local log="$work/log.txt"
    "$bin" predict -w "$weights" -s "$work/zidane720.mp4" --project "$work/runs" "${threads[@]}" "$@" 2>"$log"
    echo "== $label"
    grep -E '^(Speed|End to end)' "$log"
}
run "detection only"
for m in "${models[@]}"; do
    # The reference layout's three checkpoints (a folder may hold other files too), else all.
    size=$(du -ch "$m"/model_context1.pth "$m"/model_body1.pth "$m"/model_emotic1.pth 2>/dev/null | tail -1 | cut -f1) \
        || size=$(du -sh "$m" | cut -f1)
    echo "emotion model: $m ($size)"
    run "detection + emotions ($m)" -e "$m"
done
