# Sourced by bench/tls-*.sh: the repository as the working directory, the test certificates, a
# scratch directory and the background processes, both cleaned up on exit, and free_port.
cd "$(dirname "$0")/.."
CERTS=$PWD/test/fixtures/tls
WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
free_port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
