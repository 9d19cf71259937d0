#!/bin/sh
# Render the *.conf.template files with credentials from the environment (asterisk-config/render.sh: only its
# listed variables, never inside comments), then run Asterisk in the foreground.
set -eu

sh /etc/asterisk/templates/render.sh /etc/asterisk/templates /etc/asterisk
chown -R asterisk:asterisk /etc/asterisk /var/lib/asterisk /var/spool/asterisk /var/log/asterisk /var/run/asterisk

exec /usr/sbin/asterisk -f -U asterisk -G asterisk -vvv
