# shellcheck shell=bash
# Starting each storage server on loopback (start_<backend>: nothing when it already runs, per its
# pid file; its port from port_of, its data under $STATE/<backend>/) and waiting until it answers.
# S3 and R2 are two MinIO instances: R2's has R2's region (`auto`) and credentials of its own.

# start_minio <backend> <access key> <secret key> <region>
start_minio() {
  local name=$1 user=$2 password=$3 region=$4 port
  port=$(port_of "$name")
  if ! alive "$name"; then
    mkdir -p "$STATE/$name/data"
    say "starting MinIO ($name) on 127.0.0.1:$port"
    # MINIO_BROWSER=off: no console listener; MINIO_UPDATE=off: no update check (loopback only).
    start_server "$name" env MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$password" \
      MINIO_SITE_REGION="$region" MINIO_BROWSER=off MINIO_UPDATE=off \
      "$BIN/minio" server --quiet --anonymous --address "127.0.0.1:$port" "$STATE/$name/data"
  fi
  wait_http "$name" "http://127.0.0.1:$port/minio/health/live"
}

start_gcs() {
  local port; port=$(port_of gcs)
  if ! alive gcs; then
    mkdir -p "$STATE/gcs/data"
    say "starting fake-gcs-server on 127.0.0.1:$port"
    # The filesystem backend (objects survive a restart; 1 GiB objects do not live in memory
    # once written); -external-url: where resumable uploads continue.
    start_server gcs "$BIN/fake-gcs-server" -scheme http -host 127.0.0.1 -port "$port" \
      -public-host "127.0.0.1:$port" -external-url "http://127.0.0.1:$port" \
      -backend filesystem -filesystem-root "$STATE/gcs/data" -log-level warn
  fi
  wait_http gcs "http://127.0.0.1:$port/storage/v1/b"
}

start_azblob() {
  local port main; port=$(port_of azblob)
  if ! alive azblob; then
    mkdir -p "$STATE/azblob/data"
    main="$REPO/node_modules/azurite/dist/src/blob/main.js"
    [ -f "$main" ] || die "Azurite is not installed ($main is missing): run npm ci in $REPO."
    say "starting Azurite (blob) on 127.0.0.1:$port"
    # --skipApiVersionCheck: the SDK may speak a newer API version than this Azurite knows;
    # --loose: headers Azurite does not implement are ignored, not refused;
    # --disableTelemetry: no traffic off this machine.
    start_server azblob "$NODE" "$main" --blobHost 127.0.0.1 --blobPort "$port" \
      --location "$STATE/azblob/data" --skipApiVersionCheck --loose --disableTelemetry --silent
  fi
  wait_http azblob "http://127.0.0.1:$port/$AZ_ACCOUNT?comp=properties&restype=service"
}

# The buckets and containers the URLs name, made with each server's official SDK (already there:
# kept as they are), and the file backend's directory.
make_buckets() {
  mkdir -p "$STATE/files/$PREFIX"
  SOULBOX_STORAGE_SETUP=$(printf '{"s3":{"endpoint":"http://127.0.0.1:%s","region":"us-east-1","bucket":"%s","accessKeyId":"%s","secretAccessKey":"%s"},"r2":{"endpoint":"http://127.0.0.1:%s","region":"auto","bucket":"%s","accessKeyId":"%s","secretAccessKey":"%s"},"gcs":{"endpoint":"http://127.0.0.1:%s","project":"%s","bucket":"%s"},"azblob":{"endpoint":"http://127.0.0.1:%s/%s","accountName":"%s","accountKey":"%s","container":"%s"}}' \
    "$(port_of s3)" "$S3_BUCKET" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" \
    "$(port_of r2)" "$R2_BUCKET" "$R2_ACCESS_KEY" "$R2_SECRET_KEY" \
    "$(port_of gcs)" "$GCS_PROJECT" "$GCS_BUCKET" \
    "$(port_of azblob)" "$AZ_ACCOUNT" "$AZ_ACCOUNT" "$AZ_KEY" "$AZ_CONTAINER") \
    "$NODE" "$HERE/lib/make-buckets.mjs" >&2 || die "making the buckets failed (see above)"
}

# The export lines (stdout): each backend's URL and credentials, single-quoted.
print_exports() {
  local s3 r2 gcs az
  s3=$(port_of s3) r2=$(port_of r2) gcs=$(port_of gcs) az=$(port_of azblob)
  printf "export SOULBOX_STORAGE_DIR='%s'\n" "$STATE"
  printf "export SOULBOX_STORAGE_S3_URL='s3://%s/%s?endpoint=http://127.0.0.1:%s&region=us-east-1&pathStyle=true'\n" "$S3_BUCKET" "$PREFIX" "$s3"
  printf "export SOULBOX_STORAGE_S3_CREDENTIALS='{\"accessKeyId\":\"%s\",\"secretAccessKey\":\"%s\"}'\n" "$S3_ACCESS_KEY" "$S3_SECRET_KEY"
  printf "export SOULBOX_STORAGE_R2_URL='r2://%s/%s?endpoint=http://127.0.0.1:%s'\n" "$R2_BUCKET" "$PREFIX" "$r2"
  printf "export SOULBOX_STORAGE_R2_CREDENTIALS='{\"accessKeyId\":\"%s\",\"secretAccessKey\":\"%s\"}'\n" "$R2_ACCESS_KEY" "$R2_SECRET_KEY"
  printf "export SOULBOX_STORAGE_GCS_URL='gs://%s/%s?endpoint=http://127.0.0.1:%s&project=%s'\n" "$GCS_BUCKET" "$PREFIX" "$gcs" "$GCS_PROJECT"
  printf "export SOULBOX_STORAGE_GCS_CREDENTIALS='{}'\n"
  printf "export SOULBOX_STORAGE_AZBLOB_URL='azblob://%s/%s/%s?endpoint=http://127.0.0.1:%s/%s'\n" "$AZ_ACCOUNT" "$AZ_CONTAINER" "$PREFIX" "$az" "$AZ_ACCOUNT"
  printf "export SOULBOX_STORAGE_AZBLOB_CREDENTIALS='{\"accountName\":\"%s\",\"accountKey\":\"%s\"}'\n" "$AZ_ACCOUNT" "$AZ_KEY"
  printf "export SOULBOX_STORAGE_FILE_URL='file://%s/files/%s'\n" "$STATE" "$PREFIX"
}
