// Package version names the release of fedcrypt a binary was built as: what
// `fedcrypt version` prints, and the software that audit logs, metrics and
// exported models record as having written them.
//
// [Version] is a variable, not a constant, so that a release build sets it
// without editing the source:
//
//	go build -ldflags "-X github.com/fedcrypt/fedcrypt/version.Version=1.2.3" ./cmd/fedcrypt
//
// The build information Go embeds (runtime/debug.ReadBuildInfo) is not
// enough on its own. The go command stamps the main module's version from
// the repository's tag or commit only when it can read version control
// data: a build with -buildvcs=false, as the reproducible container image's
// is, or from a tree without its .git directory (a container build context,
// a source archive), reports the version "(devel)". Without -X, a binary
// carries the default in this package's source, which names the release
// under development.
package version
