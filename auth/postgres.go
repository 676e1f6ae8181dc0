package auth

import (
	"embed"

	"github.com/azora-os/azora/shared/pg"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations is the auth schema, applied at start and by "auth migrate"
// (the events tables come separately, from events.Migrations).
var Migrations = pg.Migrations{FS: migrationFS, Dir: "migrations", Table: "schema_migrations"}
