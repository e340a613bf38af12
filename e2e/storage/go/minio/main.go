// The S3-compatible server for the storage tests: MinIO's own entry point, built from its Go
// module at the version pinned in go.mod (e2e/storage/build builds it into e2e/storage/.bin/).
package main

import (
	"os"

	minio "github.com/minio/minio/cmd"
)

func main() { minio.Main(os.Args) }
