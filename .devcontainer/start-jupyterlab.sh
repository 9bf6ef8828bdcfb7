#!/usr/bin/env bash
# The course's JupyterLab in the devcontainer: started once (postStartCommand), shown on every attach
# (postAttachCommand). Safe to run any number of times.
#
# When a JupyterLab already answers on $PORT, it only says how to open it. Otherwise it starts
# `./course lab` in its own session (so that the end of the editor's lifecycle command does not take
# it along), waits until the server answers, and says how to open it: through the editor's
# forwarded port (the PORTS tab), with the token in the URL where the server wants one (not in
# Codespaces, whose forwarded ports are private). The server's output goes to $LOG.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8888}
LOG=${JUPYTERLAB_LOG:-/tmp/jupyterlab.log}
WAIT=${JUPYTERLAB_WAIT:-300}   # seconds; the first start may still be building the .venv
export PORT NETHELPERS_DEVCONTAINER=1   # ./course lab: remote access for the forwarded port

answers() {   # JupyterLab's API answers on the port (GET /api needs no token)
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/api" 2>/dev/null
}

# The token of the server on $PORT ("" when it has none), from `jupyter server list`.
token() {
    .venv/bin/jupyter server list --json 2>/dev/null | .venv/bin/python -c '
import json, sys
for line in sys.stdin:
    server = json.loads(line)
    if server.get("port") == int(sys.argv[1]):
        print(server.get("token", ""))
        break' "$PORT" 2>/dev/null || true
}

say_where() {
    local url
    if [ -n "${CODESPACE_NAME:-}" ] && [ -n "${GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN:-}" ]; then
        url="https://$CODESPACE_NAME-$PORT.$GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN/"
    else
        url="http://127.0.0.1:$PORT/"   # the editor forwards the container's port to this one
    fi
    local key
    key=$(token)
    echo "JupyterLab is running in this container on port $PORT (its output: $LOG)."
    echo "Open it through the editor's forwarded port (the PORTS tab, port $PORT):"
    echo
    echo "    ${url}lab/tree/notebooks/00-start-here.ipynb${key:+?token=$key}"
    echo
}

# One starter at a time (postStartCommand and postAttachCommand may overlap).
exec 9>"/tmp/jupyterlab-$PORT.lock"
flock 9

if answers; then
    say_where
    exit 0
fi

echo "Starting JupyterLab (./course lab) on port $PORT; its output goes to $LOG ..."
setsid ./course lab >"$LOG" 2>&1 </dev/null 9>&- &
server=$!
for _ in $(seq "$WAIT"); do
    if answers; then
        say_where
        exit 0
    fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "JupyterLab did not start. The end of $LOG:" >&2
        tail -n 30 "$LOG" >&2
        exit 1
    fi
    sleep 1
done
echo "JupyterLab did not answer on port $PORT within $WAIT s; see $LOG" >&2
exit 1
