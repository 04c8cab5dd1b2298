#!/bin/sh
# Re-record the fixture: see README. Needs `npm ci` here and /usr/bin/chromium.
set -e
cd "$(dirname "$0")"
exec node record.mjs "$@"
