#!/usr/bin/env bash
# `lil guard` from the outside: exit statuses, error messages that name the
# line or flag, and the output of good input. One property per case:
#   cli_guard_test.sh LIL CASE [SHARED_DIR]
set -uo pipefail

lil=$1
case_name=$2
shared=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL [$case_name]: $*" >&2
  echo "--- stdout" >&2
  cat "$work/out" >&2 2>/dev/null
  echo "--- stderr" >&2
  cat "$work/err" >&2 2>/dev/null
  exit 1
}

# Runs lil with the given arguments; stdin from $work/in when it exists.
run() {
  if [[ -f $work/in ]]; then
    "$lil" "$@" <"$work/in" >"$work/out" 2>"$work/err"
  else
    "$lil" "$@" </dev/null >"$work/out" 2>"$work/err"
  fi
  status=$?
}

expect_status() { [[ $status -eq $1 ]] || fail "exit status $status, expected $1"; }
expect_err() { grep -qF -- "$1" "$work/err" || fail "stderr lacks: $1"; }
expect_out() { grep -qF -- "$1" "$work/out" || fail "stdout lacks: $1"; }
expect_lines() {
  local n
  n=$(wc -l <"$work/out")
  [[ $n -eq $1 ]] || fail "stdout has $n lines, expected $1"
}

# A trace that says new things for a while, then loops: the rule must stop it.
looping_text() {
  local i
  for ((i = 0; i < 300; ++i)); do printf 'step %d: we compute %d squared, which is %d. ' "$i" "$i" $((i * i)); done
  for ((i = 0; i < 400; ++i)); do printf 'Wait, let me check that again. '; done
}

good_record() { printf '{"id": "%s", "response": "%s"}\n' "$1" "$2"; }

case $case_name in
  malformed_line_is_named_and_other_traces_still_analysed)
    { good_record a "first trace"; echo '{"response": "oops"'; good_record c "third trace"; } >"$work/in"
    run guard --bytes-per-token 2 --f 2
    expect_status 3
    expect_err "line 2: malformed JSON"
    expect_lines 2
    expect_out '"index":0,"id":"a"'
    expect_out '"index":2,"id":"c"'
    expect_err "2 traces analysed (1 failed)"
    ;;
  missing_field_is_named)
    { good_record a "fine"; echo '{"id": "b", "text": "no response here"}'; } >"$work/in"
    run guard --bytes-per-token 4
    expect_status 3
    expect_err 'line 2: no field "response"'
    expect_lines 1
    ;;
  field_flag_picks_the_text)
    echo '{"id": "b", "text": "a response under another name"}' >"$work/in"
    run guard --bytes-per-token 4 --f 2 --field text
    expect_status 0
    expect_out '"tokens":8'
    ;;
  non_string_field_is_named)
    echo '{"response": 42}' >"$work/in"
    run guard --bytes-per-token 4
    expect_status 3
    expect_err 'line 1: field "response" is a number, not a string'
    ;;
  invalid_utf8_is_named)
    { good_record a "fine"; printf '{"response": "bad \xff byte"}\n'; good_record c "fine too"; } >"$work/in"
    run guard --bytes-per-token 4
    expect_status 3
    expect_err "line 2: invalid UTF-8 at byte 19"
    expect_lines 2
    ;;
  invalid_utf8_in_plain_text_is_named)
    printf 'plain text \xc3\x28 here' >"$work/in"
    run guard --bytes-per-token 4 --format text
    expect_status 3
    expect_err "<stdin>: invalid UTF-8 at byte 12"
    ;;
  empty_text_is_named)
    { good_record a ""; good_record b "not empty"; } >"$work/in"
    run guard --bytes-per-token 4
    expect_status 3
    expect_err 'line 1: field "response" is empty'
    expect_lines 1
    ;;
  empty_plain_text_is_an_error)
    : >"$work/in"
    run guard --bytes-per-token 4
    expect_status 3
    expect_err "the text is empty"
    ;;
  f_zero_is_a_usage_error_naming_the_flag)
    good_record a "x" >"$work/in"
    run guard --bytes-per-token 4 --f 0
    expect_status 2
    expect_err "--f"
    expect_err "must be a whole number >= 1"
    ;;
  negative_t_is_a_usage_error_naming_the_flag)
    good_record a "x" >"$work/in"
    run guard --bytes-per-token 4 --t -1
    expect_status 2
    expect_err "--t"
    expect_err "must be a number >= 0"
    ;;
  bad_extension_flags_are_usage_errors)
    good_record a "x" >"$work/in"
    run guard --bytes-per-token 4 --patience 0
    expect_status 2
    expect_err "--patience"
    run guard --bytes-per-token 4 --relative-checks 1
    expect_status 2
    expect_err "--relative-checks"
    run guard --bytes-per-token 0
    expect_status 2
    expect_err "--bytes-per-token"
    ;;
  unreadable_tokenizer_is_named)
    good_record a "x" >"$work/in"
    run guard --tokenizer "$work/missing.model"
    expect_status 1
    expect_err "--tokenizer $work/missing.model"
    echo "not a model" >"$work/garbage.model"
    run guard --tokenizer "$work/garbage.model"
    expect_status 1
    expect_err "--tokenizer $work/garbage.model"
    ;;
  tokenizer_or_bytes_per_token_is_required)
    good_record a "x" >"$work/in"
    run guard
    expect_status 2
    expect_err "--tokenizer"
    run guard --tokenizer x.model --bytes-per-token 3
    expect_status 2
    ;;
  missing_input_file_is_named)
    run guard --bytes-per-token 4 "$work/nope.jsonl"
    expect_status 1
    expect_err "$work/nope.jsonl"
    ;;
  json_array_document_is_read)
    printf '[{"id": 1, "response": "one two"}, {"id": 2, "response": "three"}, {"text": "x"}]' >"$work/in"
    run guard --bytes-per-token 1 --f 2
    expect_status 3
    expect_out '{"index":0,"id":1,"tokens":7,"stop":'
    expect_out '"index":1,"id":2,"tokens":5'
    expect_err 'element 2: no field "response"'
    ;;
  json_object_with_array_key_is_read)
    printf '{"meta": 1, "traces": [{"response": "abcdef"}]}' >"$work/in"
    run guard --bytes-per-token 2 --f 1 --array-key traces
    expect_status 0
    expect_out '{"index":0,"tokens":3,"stop":'
    run guard --bytes-per-token 2 --array-key nothing
    expect_status 3
    expect_err 'no key "nothing" (--array-key)'
    ;;
  malformed_json_document_is_named)
    printf '[{"response": "a"}, {"response": ' >"$work/in"
    run guard --bytes-per-token 2
    expect_status 3
    expect_err "<stdin>: malformed JSON document"
    ;;
  plain_text_is_one_trace)
    looping_text >"$work/in"
    run guard --bytes-per-token 4
    expect_status 0
    expect_lines 1
    expect_out '"index":0,"tokens":'
    grep -q '"stop":[0-9]' "$work/out" || fail "the looping text was not stopped"
    expect_err "1 traces analysed (0 failed), 1 stopped (100.0%)"
    ;;
  output_lists_every_check)
    printf '{"response": "%s"}\n' "$(printf 'abcdefghij%.0s' {1..10})" >"$work/in"
    run guard --bytes-per-token 1 --f 25 --t 0
    expect_status 0
    expect_out '"tokens":100,"stop":'
    expect_out '"checks":[[25,'
    [[ $(grep -o '\],\[' "$work/out" | wc -l) -eq 3 ]] || fail "expected 4 checks"
    ;;
  modes_agree_on_generated_traces)
    for i in 1 2 3 4; do printf '{"id": %d, "response": "%s"}\n' "$i" "$(looping_text | head -c $((i * 9000)))"; done >"$work/in"
    for profile in gzip zlib; do
      run guard --bytes-per-token 3 --profile "$profile"
      expect_status 0
      mv "$work/out" "$work/incremental"
      run guard --bytes-per-token 3 --profile "$profile" --mode recompress
      expect_status 0
      cmp -s "$work/out" "$work/incremental" || fail "incremental and recompress differ ($profile)"
    done
    ;;
  plot_draws_curves_and_stop_points)
    { printf '{"response": "%s"}\n' "$(looping_text)"; good_record b "$(printf 'fresh %d ' {1..2000})"; } >"$work/in"
    run guard --bytes-per-token 4 --plot "$work/curves.svg" --plot-title 'Loops & fresh text'
    expect_status 0
    grep -qF 'Loops &amp; fresh text' "$work/curves.svg" || fail "title missing or not escaped"
    head -c 4 "$work/curves.svg" | grep -q '<svg' || fail "not an SVG"
    [[ $(grep -c '<polyline' "$work/curves.svg") -ge 2 ]] || fail "no curves"
    grep -q '<circle' "$work/curves.svg" || fail "no stop point"
    ;;
  unwritable_plot_is_named)
    good_record a "some text" >"$work/in"
    run guard --bytes-per-token 4 --plot "$work/no/such/dir/x.svg"
    expect_status 1
    expect_err "--plot $work/no/such/dir/x.svg"
    ;;
  shared_traces_modes_agree_with_tokenizer)
    [[ -n $shared ]] || fail "no shared dir given"
    tok=$shared/tokenizers/llama2/tokenizer.model
    head -n 120 "$shared/data/traces/qwq32b_math500.jsonl" >"$work/in"
    run guard --tokenizer "$tok"
    expect_status 0
    expect_lines 120
    mv "$work/out" "$work/incremental"
    run guard --tokenizer "$tok" --mode recompress
    expect_status 0
    cmp -s "$work/out" "$work/incremental" || fail "incremental and recompress differ on the QwQ traces"
    cp "$shared/data/traces/qwen25math_math100x8.jsonl" "$work/in"
    run guard --tokenizer "$tok" --f 50 --profile zlib
    expect_status 0
    mv "$work/out" "$work/incremental"
    run guard --tokenizer "$tok" --f 50 --profile zlib --mode recompress
    cmp -s "$work/out" "$work/incremental" || fail "incremental and recompress differ on the Qwen2.5-Math traces"
    ;;
  byte_fallback_cuts_match_decode_of_the_prefix)
    # Emoji and rare CJK are spelled by byte-fallback tokens; with f = 1..3
    # many checks cut a character in two, where the decode of the first n ids
    # ends in U+FFFD. Incremental (one decode, unfinished tails priced on a
    # fork) must equal decoding and compressing every prefix from scratch.
    [[ -n $shared ]] || fail "no shared dir given"
    tok=$shared/tokenizers/llama2/tokenizer.model
    for i in 1 2 3 4 5 6; do
      printf '{"id": %d, "response": "' "$i"
      for ((k = 0; k < 40; ++k)); do printf 'step %d ð¦ð§ª ä¹ä¹ ok%d; ' $k $((k * i)); done
      printf '"}\n'
    done >"$work/in"
    for f in 1 2 3 7; do
      run guard --tokenizer "$tok" --f "$f" --t 0
      expect_status 0
      mv "$work/out" "$work/incremental"
      run guard --tokenizer "$tok" --f "$f" --t 0 --mode recompress
      expect_status 0
      cmp -s "$work/out" "$work/incremental" || fail "incremental and recompress differ at f=$f"
    done
    ;;
  deeply_nested_id_is_named_and_other_traces_still_analysed)
    {
      good_record a "first trace"
      printf '{"id": '; head -c 70000 /dev/zero | tr '\0' '['; head -c 70000 /dev/zero | tr '\0' ']'
      printf ', "response": "deep"}\n'
      good_record c "third trace"
    } >"$work/in"
    run guard --bytes-per-token 2
    expect_status 3
    expect_err "line 2: arrays or objects nested deeper than 256 levels"
    expect_lines 2
    expect_out '"index":2,"id":"c"'
    ;;
  number_out_of_range_is_named_and_other_traces_still_analysed)
    { good_record a "first"; echo '{"id": 1e400, "response": "x"}'; good_record c "third"; } >"$work/in"
    run guard --bytes-per-token 2
    expect_status 3
    expect_err "line 2: malformed JSON (number overflow parsing '1e400')"
    expect_lines 2
    expect_out '"index":2,"id":"c"'
    printf '[{"response": "a"}, {"response": "b", "score": -1e400}, {"response": "c"}]' >"$work/in"
    run guard --bytes-per-token 2
    expect_status 3
    expect_err "element 1: malformed JSON (number overflow"
    expect_lines 2
    expect_out '"index":2,'
    ;;
  bad_element_of_a_document_fails_alone)
    printf '[{"response": "a"}, {"response": tru}, [[[1]]], {"response": "d"}]' >"$work/in"
    run guard --bytes-per-token 2
    expect_status 3
    expect_err "element 1: malformed JSON"
    expect_err "element 2: expected a JSON object, got array"
    expect_lines 2
    expect_out '"index":3,'
    ;;
  huge_unterminated_string_is_quoted_briefly)
    { printf '{"response": "'; head -c 10000000 /dev/zero | tr '\0' 'a'; printf '\n'; good_record b "fine"; } >"$work/in"
    run guard --bytes-per-token 2
    expect_status 3
    expect_err "line 1: malformed JSON"
    expect_err "bytes in all"
    [[ $(wc -c <"$work/err") -lt 1000 ]] || fail "stderr has $(wc -c <"$work/err") bytes"
    expect_lines 1
    { printf '[{"response": "'; head -c 10000000 /dev/zero | tr '\0' 'a'; } >"$work/in"
    run guard --bytes-per-token 2
    expect_status 3
    expect_err "<stdin>: malformed JSON document"
    [[ $(wc -c <"$work/err") -lt 1000 ]] || fail "stderr has $(wc -c <"$work/err") bytes"
    ;;
  byte_order_mark_is_skipped)
    { printf '\xef\xbb\xbf'; good_record a "first"; good_record b "second"; } >"$work/in"
    run guard --bytes-per-token 2
    expect_status 0
    expect_lines 2
    expect_out '"index":1,"id":"b"'
    { printf '\xef\xbb\xbf'; printf '[{"response": "x"}]'; } >"$work/in"
    run guard --bytes-per-token 2
    expect_status 0
    expect_lines 1
    ;;
  records_are_streamed)
    # The first record's line must come out before the input ends: lil
    # reads a record at a time instead of the whole input.
    mkfifo "$work/fifo"
    "$lil" guard --bytes-per-token 2 <"$work/fifo" >"$work/out" 2>"$work/err" &
    pid=$!
    exec 7>"$work/fifo"
    good_record a "first" >&7
    for ((i = 0; i < 200; ++i)); do
      [[ -s $work/out ]] && break
      sleep 0.1
    done
    [[ -s $work/out ]] || { exec 7>&-; wait $pid; fail "no record written before the input ended"; }
    good_record b "second" >&7
    exec 7>&-
    wait $pid
    status=$?
    expect_status 0
    expect_lines 2
    ;;
  huge_bytes_per_token_counts_one_token)
    good_record a "some text" >"$work/in"
    run guard --bytes-per-token 18446744073709551615
    expect_status 0
    expect_out '"tokens":1,'
    ;;
  tokenizer_directory_is_named)
    good_record a "x" >"$work/in"
    run guard --tokenizer "$work"
    expect_status 1
    expect_err "--tokenizer $work: is a directory"
    ;;
  stdout_write_errors_name_stdout)
    good_record a "some text" >"$work/in"
    "$lil" guard --bytes-per-token 2 <"$work/in" >/dev/full 2>"$work/err"
    status=$?
    expect_status 1
    expect_err "cannot write <stdout>"
    head -c 100000 /dev/zero >"$work/in"
    "$lil" size --every 1 <"$work/in" >/dev/full 2>"$work/err"
    status=$?
    expect_status 1
    expect_err "cannot write <stdout>"
    "$lil" --help >/dev/full 2>"$work/err"
    status=$?
    expect_status 1
    expect_err "cannot write <stdout>"
    "$lil" --version >/dev/full 2>"$work/err"
    status=$?
    expect_status 1
    expect_err "cannot write <stdout>"
    "$lil" guard --help >/dev/full 2>"$work/err"
    status=$?
    expect_status 1
    expect_err "cannot write <stdout>"
    ;;
  plot_title_with_control_characters_parses)
    good_record a "$(printf 'fresh %d ' {1..300})" >"$work/in"
    run guard --bytes-per-token 4 --plot "$work/curves.svg" --plot-title "$(printf 'bell\a tab\t nul-less \x1b[31m bad \xff\xfe end')"
    expect_status 0
    python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$work/curves.svg" ||
      fail "the SVG does not parse"
    grep -qF 'bell' "$work/curves.svg" || fail "the title is gone"
    ;;
  *)
    fail "unknown case"
    ;;
esac
exit 0
