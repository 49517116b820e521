package version

// Version is this build's release: the default below, or what the linker
// was given with -X. It is one word (no spaces), so that the line
// `fedcrypt version` prints splits into the name and the version.
var Version = "0.1.0-dev"

// Software is the name and version recorded in audit logs as the software
// that wrote them: "fedcrypt " + [Version].
func Software() string { return "fedcrypt " + Version }
