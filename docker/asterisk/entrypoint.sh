#!/bin/sh
# Render the *.conf.template files with credentials from the environment (Asterisk config cannot read env),
# then run Asterisk in the foreground. Only the listed variables are substituted: Asterisk's own ${...}
# (dialplan variables) pass through untouched.
set -eu

: "${ARI_USERNAME:?set ARI_USERNAME}"
: "${ARI_PASSWORD:?set ARI_PASSWORD}"
: "${SOFTPHONE_PASSWORD:?set SOFTPHONE_PASSWORD}"
: "${AGENT_PASSWORD:?set AGENT_PASSWORD}"
export ARI_APP="${ARI_APP:-voicebot}"
export VOICEBOT_NUMBER="${VOICEBOT_NUMBER:-100}"
export ARI_BIND_ADDRESS="${ARI_BIND_ADDRESS:-0.0.0.0}"
export LOCAL_NET="${LOCAL_NET:-172.28.0.0/24}"
# without a public address, advertise the container's own (fine for phones on the docker host / same LAN via host networking)
export EXTERNAL_IP="${EXTERNAL_IP:-$(hostname -i | cut -d' ' -f1)}"

VARS='${ARI_USERNAME} ${ARI_PASSWORD} ${ARI_APP} ${VOICEBOT_NUMBER} ${ARI_BIND_ADDRESS} ${LOCAL_NET} ${EXTERNAL_IP} ${SOFTPHONE_PASSWORD} ${AGENT_PASSWORD}'
for tpl in /etc/asterisk/templates/*.template; do
  out="/etc/asterisk/$(basename "$tpl" .template)"
  envsubst "$VARS" < "$tpl" > "$out"
  chmod 640 "$out"
done
chown -R asterisk:asterisk /etc/asterisk /var/lib/asterisk /var/spool/asterisk /var/log/asterisk /var/run/asterisk

exec /usr/sbin/asterisk -f -U asterisk -G asterisk -vvv
