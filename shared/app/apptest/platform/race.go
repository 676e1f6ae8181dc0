//go:build race

package platform

// raceEnabled says the test binary runs with the race detector, so the
// services are built with it too (reusing the packages the test build compiled).
const raceEnabled = true
