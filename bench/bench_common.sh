# Sourced by the side-by-side benchmark scripts (they define log() and RESULTS).

# Blocks, up to QUIET_WAIT_MAX seconds (default 900), until the 1-minute load average is below
# $QUIET_LOAD (no-op when unset), then logs the load it starts under.
wait_quiet() {
  [[ -n $QUIET_LOAD ]] || return 0
  local waited=0
  while awk -v l="$QUIET_LOAD" '{ exit !($1 >= l) }' /proc/loadavg && [[ $waited -lt ${QUIET_WAIT_MAX:-900} ]]; do
    sleep 15
    waited=$((waited + 15))
  done
  log "load average $(cut -d' ' -f1 /proc/loadavg) after waiting ${waited}s"
}

# llama-bench -o json prints an array with one object per test; mofa bench prints one object.
llama_tps() {  # name n_prompt n_gen -> avg tokens/s or empty
  local file=$RESULTS/$1.json
  [[ -s $file ]] || return 0
  jq -r --argjson p "$2" --argjson n "$3" \
    '[.[] | select(.n_prompt == $p and .n_gen == $n) | .avg_ts][0] // empty' "$file" 2>/dev/null || true
}
mofa_json() {  # name jq-filter -> value or empty
  local file=$RESULTS/$1.json
  [[ -s $file ]] || return 0
  grep '^{' "$file" | tail -n 1 | jq -r "$2 // empty" 2>/dev/null || true
}
