#!/usr/bin/env bash
# Runs the codec's fuzz targets (hardware/codec/fuzz) for a while each and files any crash
# input under tests/crashers/{at,pdu}/, where `cargo test` replays it (tests/it/crashers.rs).
#
# cargo-fuzz needs nightly compiler flags; on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks
# them. Needs `cargo install cargo-fuzz` once.
#
# Usage: hardware/codec/scripts/fuzz.sh [seconds per target, default 120]
set -euo pipefail

seconds="${1:-120}"
codec="$(cd "$(dirname "$0")/.." && pwd)"
cd "$codec"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-hw}"

run() {
    local target="$1" crashers="$2" max_len="$3"
    local corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    # Seeds and earlier crashers start the corpus.
    find "tests/crashers/$crashers" -type f ! -name 'README*' -exec cp {} "$corpus/" \;
    local status=0
    cargo fuzz run "$target" "$corpus" -- \
        -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 || status=$?
    for artifact in fuzz/artifacts/"$target"/*; do
        [ -f "$artifact" ] || continue
        cp "$artifact" "tests/crashers/$crashers/"
        echo "filed $(basename "$artifact") under tests/crashers/$crashers/"
    done
    return "$status"
}

run at_reader at 8192
run pdu_decode pdu 400
