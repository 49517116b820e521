// Package helm holds no code: its directory holds fedcrypt's Helm chart
// (fedcrypt/), and its tests check the chart through Helm's own Go packages
// (lint, a client-only dry-run install), decode every rendered object
// strictly as its Kubernetes type, and check that the fedcrypt binary
// answers the chart's probes.
package helm
