#!/usr/bin/env bash
# Build helm from the Go module proxy into <repo>/.run/bin/helm (TOOLCHAIN.md §2).
# No-op when .run/bin/helm already reports the wanted version.
# Usage: deploy/local/install_helm.sh            (HELM_VERSION=v3.21.4 by default)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$REPO/.run/bin"
HELM="$BIN/helm"
WANTED="${HELM_VERSION:-v3.21.4}"
# Newest 3.x releases known to need only go 1.25 (v3.21.4 needs go 1.26).
FALLBACK="v3.21.0"
KUBE_MINOR=33

export GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-}"

command -v go >/dev/null || { echo "install_helm: 'go' not found (apt-get install golang or put Go >= 1.25 on PATH)" >&2; exit 1; }

# "go version go1.26.8 linux/amd64" -> minor version 26
go_minor() { go version | sed -E 's/.*go1\.([0-9]+).*/\1/'; }
required_minor() {  # the go directive of helm's go.mod at version $1, e.g. "go 1.26.0" -> 26
    curl -fsSL "$GOPROXY/helm.sh/helm/v3/@v/$1.mod" | sed -nE 's/^go 1\.([0-9]+).*/\1/p' | head -n1
}

version_of() { "$1" version --template '{{.Version}}' 2>/dev/null || true; }

if [[ -x "$HELM" && "$(version_of "$HELM")" == "$WANTED" ]]; then
    exit 0
fi

HAVE="$(go_minor)"
NEED="$(required_minor "$WANTED" || true)"
if [[ -n "$NEED" && "$HAVE" -lt "$NEED" ]]; then
    echo "install_helm: helm $WANTED needs go 1.$NEED, have go 1.$HAVE; trying $FALLBACK" >&2
    WANTED="$FALLBACK"
    if [[ -x "$HELM" && "$(version_of "$HELM")" == "$WANTED" ]]; then
        exit 0
    fi
    NEED="$(required_minor "$WANTED" || true)"
    if [[ -n "$NEED" && "$HAVE" -lt "$NEED" ]]; then
        echo "install_helm: helm $WANTED needs go 1.$NEED too; install Go >= 1.$NEED first" >&2
        exit 1
    fi
fi

mkdir -p "$BIN"
LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$WANTED \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$KUBE_MINOR \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$KUBE_MINOR"

echo "install_helm: building helm $WANTED into $HELM (first build takes a few minutes)" >&2
start=$(date +%s)
GOBIN="$BIN" go install -trimpath -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@$WANTED"
echo "install_helm: built $("$HELM" version --short) in $(( $(date +%s) - start ))s" >&2
