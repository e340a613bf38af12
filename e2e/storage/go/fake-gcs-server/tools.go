//go:build tools

// Pins fake-gcs-server's main package in this module (e2e/storage/build builds
// github.com/fsouza/fake-gcs-server from here into e2e/storage/.bin/).
package tools

import _ "github.com/fsouza/fake-gcs-server"
