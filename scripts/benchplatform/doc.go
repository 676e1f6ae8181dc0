// Package benchplatform holds benchmarks of the whole platform running as
// real processes (shared/app/apptest/platform): what no one service's
// benchmark can see, such as the memory each service needs idle and under
// a mixed load arriving through NGINX. scripts/bench.sh runs them; the
// package has no code of its own outside its tests.
package benchplatform
