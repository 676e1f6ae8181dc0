package main

import (
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
)

func TestRunServesOperationalEndpoints(t *testing.T) {
	base := apptest.StartService(t, apptest.Env(t, apptest.Deps{Postgres: true, Redis: true, Kafka: true}), loadConfig, run)
	apptest.CheckOperational(t, base, "postgres", "redis")
}
