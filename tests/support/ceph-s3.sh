#!/bin/bash
# A throwaway single-node Ceph (mon + mgr + one memstore OSD) with radosgw on 127.0.0.1: a real
# S3 endpoint for the offsite tests and the bench (a fake S3 accepted wrong secrets and stored
# corrupted bytes; this one signs, checks and stores like the real thing).
#
#   tests/support/ceph-s3.sh start DIR   # prints KEY=VALUE lines (endpoint, keys) on success
#   tests/support/ceph-s3.sh stop DIR    # kills the daemons it started (by pid file), removes DIR
#
# Needs root and Debian's packages: apt-get install ceph-mon ceph-osd ceph-mgr radosgw uuid-runtime.
# Env: RGW_PORT (7480), MON_PORT (3300), MEMSTORE_BYTES (3 GiB; a full memstore HANGS writes
# instead of failing, so size it above what a run stores).
# Adapted from the measured recipe in ../shared/reference/ceph-s3-for-tests.sh (~15 s to start,
# ~0.9 GB RAM). The mgr is left out unless MGR=1: radosgw and the tests do not need it.
set -euo pipefail
cmd=${1:?start|stop}; D=${2:?directory}
RGW_PORT=${RGW_PORT:-7480}; MON_PORT=${MON_PORT:-3300}
export CEPH_CONF=$D/ceph.conf

stop() {
  for p in "$D"/run/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  sleep 1
  for p in "$D"/run/*.pid; do [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null || true; done
  rm -rf "$D"
}
if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph-authtool monmaptool uuidgen; do
  command -v $bin >/dev/null || { echo "ceph-s3: $bin is not installed (apt-get install ceph-mon ceph-osd ceph-mgr radosgw uuid-runtime)" >&2; exit 3; }
done
[ -d "$D/run" ] && stop
mkdir -p "$D"/{mon,mgr,osd,run,log}
FSID=$(uuidgen); OSD_UUID=$(uuidgen)
cat > "$CEPH_CONF" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
keyring = $D/keyring
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
auth allow insecure global id reclaim = false
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
[mon.a]
mon data = $D/mon
[mgr.x]
mgr data = $D/mgr
[osd.0]
osd data = $D/osd
osd objectstore = memstore
memstore device bytes = ${MEMSTORE_BYTES:-3221225472}
[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $D/rgw
rgw gc obj min wait = 10
rgw gc processor period = 10
CONF
K=$D/keyring
ceph-authtool $K --create-keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool $K --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool $K --gen-key -n mgr.x --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool $K --gen-key -n osd.0 --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' >/dev/null
ceph-authtool $K --gen-key -n client.rgw.gw --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null
monmaptool --create --enable-all-features --fsid $FSID --addv a "[v2:127.0.0.1:$MON_PORT]" $D/monmap >/dev/null
ceph-mon --mkfs -i a --monmap $D/monmap --keyring $K
run() { local n=$1; shift; "$@" >$D/log/$n.out 2>&1 & echo $! > $D/run/$n.pid; }
run mon ceph-mon -f -i a
if [ "${MGR:-0}" = 1 ]; then run mgr ceph-mgr -f -i x; fi
timeout 60 ceph osd new $OSD_UUID 0 >/dev/null
ceph-osd --mkfs -i 0 --osd-uuid $OSD_UUID >$D/log/osd-mkfs.out 2>&1
run osd ceph-osd -f -i 0
for i in $(seq 60); do timeout 10 ceph osd stat 2>/dev/null | grep -q ' 1 up' && break; sleep 1; done
run rgw radosgw -f -n client.rgw.gw
for i in $(seq 120); do curl -s -o /dev/null http://127.0.0.1:$RGW_PORT/ && break; sleep 1; done
curl -sf -o /dev/null http://127.0.0.1:$RGW_PORT/ || { echo "ceph-s3: radosgw did not come up" >&2; tail "$D"/log/*.out >&2; exit 1; }
ACCESS=BHTESTACCESS$RANDOM; SECRET=$(uuidgen | tr -d -)
timeout 60 radosgw-admin user create --uid=baluhost-test --display-name=BaluHost-tests --access-key=$ACCESS --secret-key=$SECRET >/dev/null
echo "S3_TEST_ENDPOINT=http://127.0.0.1:$RGW_PORT"
echo "S3_TEST_ACCESS_KEY=$ACCESS"
echo "S3_TEST_SECRET_KEY=$SECRET"
echo "S3_TEST_CEPH_DIR=$D"
