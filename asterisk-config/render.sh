#!/bin/sh
# Render asterisk-config/*.template into Asterisk config files with values from the environment (Asterisk config
# cannot read env). Only the variables listed in VARS are replaced, and only outside comments: a line whose first
# non-blank character is ';' is copied as it is, so no value (the ARI password) ever lands in a comment, and
# Asterisk's own ${...} dialplan variables pass through untouched.
#   ARI_USERNAME=voicebot ARI_PASSWORD=... SOFTPHONE_PASSWORD=... AGENT_PASSWORD=... \
#     sh asterisk-config/render.sh asterisk-config /etc/asterisk
# ARI_CONNECTION=outbound also renders outbound/*.template over them: Asterisk opens the ARI websocket to BOTS_URI
# (default ws://voicebot:3000/ari), one per call (BOTS_CONNECTION_TYPE=per_call_config, the default) or persistent.
set -eu
src="${1:?usage: render.sh TEMPLATE_DIR OUT_DIR}"
out="${2:?usage: render.sh TEMPLATE_DIR OUT_DIR}"

: "${ARI_USERNAME:?set ARI_USERNAME}"
: "${ARI_PASSWORD:?set ARI_PASSWORD}"
: "${SOFTPHONE_PASSWORD:?set SOFTPHONE_PASSWORD}"
: "${AGENT_PASSWORD:?set AGENT_PASSWORD}"
export ARI_APP="${ARI_APP:-voicebot}"
export VOICEBOT_NUMBER="${VOICEBOT_NUMBER:-100}"
export ARI_BIND_ADDRESS="${ARI_BIND_ADDRESS:-0.0.0.0}"
export LOCAL_NET="${LOCAL_NET:-172.28.0.0/24}"
# without a public address, advertise this host's own (fine for phones on the same host or LAN)
export ARI_CONNECTION="${ARI_CONNECTION:-inbound}"
export BOTS_URI="${BOTS_URI:-ws://voicebot:3000/ari}"
export BOTS_CONNECTION_TYPE="${BOTS_CONNECTION_TYPE:-per_call_config}"
export EXTERNAL_IP="${EXTERNAL_IP:-$(hostname -i 2>/dev/null | cut -d' ' -f1)}"

VARS='${ARI_USERNAME} ${ARI_PASSWORD} ${ARI_APP} ${VOICEBOT_NUMBER} ${ARI_BIND_ADDRESS} ${LOCAL_NET} ${EXTERNAL_IP} ${SOFTPHONE_PASSWORD} ${AGENT_PASSWORD} ${BOTS_URI} ${BOTS_CONNECTION_TYPE}'

render() {
  while IFS= read -r line || [ -n "$line" ]; do
    trimmed="${line#"${line%%[![:blank:]]*}"}"
    case "$trimmed" in
      \;*) printf '%s\n' "$line" ;;
      *) printf '%s\n' "$line" | envsubst "$VARS" ;;
    esac
  done < "$1"
}

templates="$src/*.template"
case "$ARI_CONNECTION" in
  inbound) ;;
  outbound) templates="$templates $src/outbound/*.template" ;;
  *) echo "ARI_CONNECTION must be inbound or outbound, got: $ARI_CONNECTION" >&2; exit 1 ;;
esac
for tpl in $templates; do
  target="$out/$(basename "$tpl" .template)"
  render "$tpl" > "$target"
  chmod 640 "$target"
done
