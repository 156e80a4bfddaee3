#!/usr/bin/env bash
# The whole test suite, as the README gives it: installs the real clients the
# integration tests drive (Debian's ffmpeg, rtmpdump, chromium, Node.js and the
# npm rtmp-client) when they are missing,
# then runs every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v rtmpdump >/dev/null 2>&1 || missing+=(rtmpdump)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing ${missing[*]} from Debian" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The npm shared-object client (rtmp-client), pinned by the lockfile.
if [ ! -d rtmp/testdata/node/node_modules/rtmp-client ]; then
  npm ci --prefix rtmp/testdata/node --no-audit --no-fund --loglevel=error
fi

# Missing tools fail the integration tests instead of skipping them.
export CI="${CI:-true}"
go test -race -count=1 -timeout 20m ./...
