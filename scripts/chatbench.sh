#!/usr/bin/env bash
# chatbench.sh ws|so [extra scopecast-chatbench flags]
#
# One run of the chat benchmarks of docs/benchmarks.md on a fresh server, both
# built from this checkout:
#   ws  1000 WebSocket + 10 RTMP clients in /chat/bench, 100 messages/s, 20 s
#   so  1000 RTMP clients on one object, one of them making 1000 changes/s, 10 s
# The server and the tool run at nice -10 (root only; otherwise at the normal
# priority) so that other work on the machine disturbs them less; the report
# says how much CPU other processes used meanwhile. CHATBENCH_TOOL_SCHED=batch
# runs the tool under SCHED_BATCH (chrt -b 0; no privilege needed): same nice,
# same fair share of the CPU, but its clients' wake-ups (160,000 a second in
# the so mode) do not preempt the server in the middle of a fan-out, as
# clients on other machines would not; its own delays still count (it times
# each message at the read that brought it in). The default, other, is an
# ordinary process, as in the figures of docs/benchmarks.md. The server's write
# syscalls per second (from /proc/PID/io) are printed at the end.
# SCOPECAST_SERVER_FLAGS adds server flags, e.g. "-set shared_objects.merge_window=10ms".
set -euo pipefail
mode=${1:?usage: chatbench.sh ws|so [chatbench flags]}
shift
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
data=$(mktemp -d)
trap 'rm -rf "$bin" "$data"' EXIT
go build -o "$bin/scopecast" ./cmd/scopecast
go build -o "$bin/chatbench" ./cmd/scopecast-chatbench
nice=()
if [ "$(id -u)" = 0 ]; then nice=(nice -n -10); fi
sched=()
case ${CHATBENCH_TOOL_SCHED:-other} in
batch) sched=(chrt -b 0) ;;
other) ;;
*) echo "CHATBENCH_TOOL_SCHED must be batch or other" >&2; exit 2 ;;
esac
case $mode in
ws) rtmp=127.0.0.1:29550 http=127.0.0.1:29551 room=chat/bench
    args=(-ws-clients 1000 -rtmp-clients 10 -rate 100/s -duration 20s) ;;
so) rtmp=127.0.0.1:29750 http=127.0.0.1:29751 room=chat/sobench
    args=(-ws-clients 0 -rtmp-clients 1000 -rtmp-share 1 -writers 1 -rate 1000/s -duration 10s -ramp 500/s) ;;
*) echo "mode must be ws or so" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086
"${nice[@]}" "$bin/scopecast" -rtmp $rtmp -http $http -admin "" -data "$data" -log-level error ${SCOPECAST_SERVER_FLAGS:-} &
pid=$!
for _ in $(seq 50); do (echo >/dev/tcp/${rtmp%:*}/${rtmp#*:}) 2>/dev/null && break; sleep 0.1; done
( while kill -0 $pid 2>/dev/null; do grep syscw /proc/$pid/io 2>/dev/null | awk '{print $2}'; sleep 1; done ) > "$bin/io" &
status=0
echo "tool scheduling: ${CHATBENCH_TOOL_SCHED:-other}"
"${nice[@]}" "${sched[@]}" "$bin/chatbench" -ws "ws://$http/$room" -rtmp "rtmp://$rtmp/$room" "${args[@]}" -pid $pid "$@" || status=$?
kill $pid
wait $pid 2>/dev/null || true
echo "server write syscalls per second: $(awk 'NR>1{printf "%d ", $1-p} {p=$1}' "$bin/io")"
exit $status
