#!/usr/bin/env bash
# Checks the deployment files with the tools this machine has: no container
# engine or Kubernetes cluster runs here, so images are not built and
# manifests are not applied. Run from the repository root after `make build`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "systemd: systemd-analyze verify, with ExecStart pointing at the built binary"
sed "s#/usr/local/bin/heavylift#$repo_root/build/release/heavylift#" deploy/systemd/heavylift.service \
  > "$work/heavylift.service"
systemd-analyze verify "$work/heavylift.service"

echo "kubernetes: kubectl kustomize renders every manifest"
kubectl kustomize deploy/kubernetes > "$work/manifests.yaml"
grep -c '^kind:' "$work/manifests.yaml" | xargs -I{} echo "  {} objects"

echo "compose: the file parses as YAML with the expected services"
python3 - deploy/compose.yaml <<'PY'
import sys, yaml
services = yaml.safe_load(open(sys.argv[1]))["services"]
expected = {"heavylift", "redis", "rabbitmq", "postgres"}
missing = expected - set(services)
if missing:
    sys.exit(f"compose.yaml lacks services: {sorted(missing)}")
print("  services:", ", ".join(sorted(services)))
PY

echo "container: the image's settings start the binary (0.0.0.0 with a token file)"
printf 'container-check-token-0123456789\n' > "$work/tokens"
HEAVYLIFT_GRPC_ADDRESS=0.0.0.0:0 HEAVYLIFT_HTTP_ADDRESS=127.0.0.1:0 HEAVYLIFT_AUTH_TOKEN_FILE="$work/tokens" \
  timeout 10 build/release/heavylift --log-level warn &
pid=$!
sleep 2
kill -TERM "$pid"
wait "$pid"
echo "deploy files checked"
