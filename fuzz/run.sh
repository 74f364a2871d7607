#!/usr/bin/env bash
# A fuzzing campaign: every target (or the ones named) for SECONDS each, one after another, on one core.
#
#   fuzz/run.sh [SECONDS] [TARGET...]   run (default: 60 s per target, every target in Cargo.toml)
#   fuzz/run.sh --seeds                 rebuild the seed corpus in fuzz/corpus/ from the test vectors
#
# Each run starts from the committed seeds (fuzz/corpus/TARGET, read only) plus what earlier runs found
# (fuzz/target/grown/TARGET, where new inputs go; not committed). libFuzzer's final statistics
# (-print_final_stats=1) and its last status line give the summary table. A crashing input is copied to
# fuzz/regressions/TARGET/, which tests/fuzz_regressions.rs replays on every `cargo test`.
#
# Environment: FUZZ_NICE (default 10) is the run's nice level; FUZZ_MAX_LEN (default 4096) the largest
# input; FUZZ_SANITIZER (default none: pushlab's protocol code has no unsafe, and debug assertions and
# overflow checks stay on) is passed to cargo fuzz; FUZZ_MAX_RESTARTS (default 20) bounds the restarts
# after crashes.
set -euo pipefail

# Everything is in one function, called on the last line: bash reads the whole file before it runs any
# of it, so editing this script while a campaign runs cannot change that campaign.
main() {
    fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
    cd "$fuzz_dir"

    if [ "${1:-}" = "--seeds" ]; then
        # The generator is an ignored test of the main crate: it reads the test files' vectors and uses
        # pushlab's frame encoder (tests/fuzz_regressions/seeds.rs).
        cd "$fuzz_dir/.."
        exec cargo test --quiet --test fuzz_regressions -- --ignored --exact write_seed_corpus --nocapture
    fi

    seconds="${1:-60}"
    case "$seconds" in
        '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...] | --seeds" >&2; exit 2 ;;
    esac
    shift || true

    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "run.sh needs cargo-fuzz: cargo install cargo-fuzz" >&2
        exit 1
    fi
    if ! command -v c++ >/dev/null 2>&1; then
        echo "run.sh needs a C++ compiler for libFuzzer: apt-get install g++" >&2
        exit 1
    fi

    # A nightly toolchain if there is one; otherwise stable, allowed cargo-fuzz's -Z flags.
    if rustup run nightly rustc --version >/dev/null 2>&1; then
        cargo_fuzz=(cargo +nightly fuzz)
        toolchain="$(rustup run nightly rustc --version)"
    else
        cargo_fuzz=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
        toolchain="$(rustc --version) with RUSTC_BOOTSTRAP=1"
    fi

    mapfile -t known_targets < <("${cargo_fuzz[@]}" list)
    if [ "$#" -gt 0 ]; then
        targets=("$@")
    else
        targets=("${known_targets[@]}")
    fi
    for target in "${targets[@]}"; do
        case " ${known_targets[*]} " in
            *" $target "*) ;;
            *) echo "no fuzz target $target; there are: ${known_targets[*]}" >&2; exit 2 ;;
        esac
    done

    sanitizer="${FUZZ_SANITIZER:-none}"
    max_len="${FUZZ_MAX_LEN:-4096}"
    max_restarts="${FUZZ_MAX_RESTARTS:-20}"
    logs="$fuzz_dir/target/logs"
    mkdir -p "$logs"
    summary="$logs/summary-$(date -u +%Y%m%dT%H%M%SZ).md"

    # The value of `stat::NAME:` in a libFuzzer log, or "?".
    final_stat() {
        sed -n "s/^stat::$1: *//p" "$2" | tail -n 1 | grep . || echo "?"
    }

    # Field NAME (cov, corp) of the last status line ("#123 DONE cov: 394 ft: 900 corp: 570/21Kb ...").
    status_field() {
        grep -E '^#[0-9]+' "$2" | tail -n 1 | sed -n "s/.* $1: \([^ ]*\).*/\1/p" | grep . || echo "?"
    }

    # The server core logs every refused request and dropped connection to stderr: hundreds of
    # megabytes in ten minutes of connection_core. Its stderr is closed (libFuzzer keeps its own output;
    # a crash's panic message is seen by replaying it: cargo test --test fuzz_regressions).
    quiet_flag() {
        [ "$1" = connection_core ] && echo "-close_fd_mask=2" || true
    }

    # Copies the crash artifacts of TARGET into the regression folder; prints how many are new there.
    keep_findings() {
        local target="$1" found=0 artifact
        mkdir -p "$fuzz_dir/regressions/$target"
        for artifact in "$fuzz_dir/artifacts/$target"/*; do
            [ -f "$artifact" ] || continue
            # Already kept, maybe moved into the folder of a known bug (see tests/fuzz_regressions.rs)?
            if [ -z "$(find "$fuzz_dir/regressions/$target" -name "$(basename "$artifact")")" ]; then
                cp "$artifact" "$fuzz_dir/regressions/$target/"
                found=$((found + 1))
            fi
        done
        rmdir "$fuzz_dir/regressions/$target" 2>/dev/null || true
        echo "$found"
    }

    {
        echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)),"
        echo "$toolchain, $(cargo fuzz --version), --sanitizer $sanitizer -- -max_total_time=$seconds -max_len=$max_len"
        echo
        echo "| target | executions | per second | coverage (edges) | corpus | findings |"
        echo "|---|---|---|---|---|---|"
    } >"$summary"

    # Runs TARGET for SECONDS of fuzzing. libFuzzer stops at the first crash; the run then goes on from
    # where it was for the time that is left (at most FUZZ_MAX_RESTARTS times, default 20), so that one
    # known bug does not end a target's campaign. Prints one row of the summary table.
    run_target() {
        local target="$1" grown="$fuzz_dir/target/grown/$1" seeds="$fuzz_dir/corpus/$1"
        local log="$logs/$1.log" part_log executions=0 fuzz_seconds=0 findings=0 crashes=0
        local left="$seconds" started part_status part_executions last_log=""
        mkdir -p "$grown" "$seeds"
        : >"$log"
        echo "== $target: $seconds s from $(find "$seeds" -type f | wc -l) seeds and $(find "$grown" -type f | wc -l) inputs found before (log: $log)" >&2
        "${cargo_fuzz[@]}" build "$target" --sanitizer "$sanitizer" >>"$log" 2>&1 ||
            { echo "   $target does not build: see $log" >&2; return 1; }
        for part in $(seq 0 "$max_restarts"); do
            part_log="$logs/$target.part$part.log"
            started="$(date +%s)"
            part_status=0
            # The first corpus folder receives the new inputs; the seeds are only read.
            nice -n "${FUZZ_NICE:-10}" "${cargo_fuzz[@]}" run "$target" --sanitizer "$sanitizer" "$grown" "$seeds" -- \
                -max_total_time="$left" -max_len="$max_len" -print_final_stats=1 $(quiet_flag "$target") \
                >"$part_log" 2>&1 || part_status=$?
            cat "$part_log" >>"$log"
            last_log="$part_log"
            left=$((left - ($(date +%s) - started)))
            fuzz_seconds=$((fuzz_seconds + $(date +%s) - started))
            part_executions="$(final_stat number_of_executed_units "$part_log")"
            [ "$part_executions" = "?" ] || executions=$((executions + part_executions))
            findings=$((findings + $(keep_findings "$target")))
            [ "$part_status" -eq 0 ] && break
            crashes=$((crashes + 1))
            grep -q 'Test unit written to' "$part_log" ||
                { echo "   $target stopped with status $part_status and no artifact: see $log" >&2; break; }
            echo "   $target: crash $crashes, going on for the $left s left" >&2
            [ "$left" -gt 5 ] || break
        done
        local corp
        corp="$(status_field corp "$last_log")"
        printf '| `%s` | %s | %s | %s | %s inputs, %s | %s |\n' "$target" \
            "$executions" "$((executions / (fuzz_seconds > 0 ? fuzz_seconds : 1)))" \
            "$(status_field cov "$last_log")" "${corp%%/*}" "${corp#*/}" \
            "$([ "$crashes" -gt 0 ] && echo "$crashes crashes, $findings new in regressions/$target" || echo none)"
        [ "$crashes" -eq 0 ]
    }

    status=0
    for target in "${targets[@]}"; do
        run_target "$target" >>"$summary" || status=1
    done

    cat "$summary"
    exit "$status"
}

main "$@"
