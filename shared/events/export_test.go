package events

import "testing"

// StartConsumer lets the external tests (package events_test) run a
// Consumer the way this package's own tests do: startConsumer.
func StartConsumer(t testing.TB, c *Consumer) (stop func() error) { return startConsumer(t, c) }
