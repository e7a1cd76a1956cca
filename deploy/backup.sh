#!/bin/sh
# Online backup of the service's SQLite database while it serves: sqlite3's .backup uses the
# online backup API, so the copy is one consistent state of the journal and read model.
# Usage: deploy/backup.sh [DATA_DIR] [BACKUP_DIR]   (defaults /var/lib/delivery, /var/backups/delivery)
set -eu
data=${1:-/var/lib/delivery}
dest=${2:-/var/backups/delivery}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
umask 077
mkdir -p "$dest"
for db in delivery.sqlite3 simulated-provider.sqlite3; do
    [ -f "$data/$db" ] || continue
    sqlite3 "$data/$db" ".backup '$dest/$stamp-$db'"
    sqlite3 "$dest/$stamp-$db" "PRAGMA integrity_check" | grep -qx ok
done
cp "$data/secret.key" "$dest/$stamp-secret.key"   # keys the Idempotency-Key ids; restore it too
echo "$dest/$stamp-*"
