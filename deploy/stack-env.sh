#!/usr/bin/env bash
# Prints the stack's facts (/etc/camcloud/stack.env) from the instance's user data on stdin.
# The user data is rewritten when a stack parameter changes (a domain, the upload limit), and
# CloudFormation restarts the instance, but cloud-init runs it only on the first boot: the
# updater reads it again through this, so a parameter change reaches the host.
set -euo pipefail
sed -n "/^cat > \/etc\/camcloud\/stack.env <<'EOF'\$/,/^EOF\$/p" | sed '1d;$d' | grep -E '^CAMCLOUD_[A-Z_]+=' || {
  echo "stack-env.sh: no stack.env block in the user data" >&2
  exit 1
}
