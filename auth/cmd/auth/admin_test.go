package main

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/events/kafkatest"
)

func TestAdminSetsRolesAndEventsReachKafka(t *testing.T) {
	t.Parallel()
	c, env, adminToken := startAuthWithAdmin(t)
	userID, user := registerAndLogin(t, c, uniqueEmail())

	path := "/api/v1/auth/users/" + userID + "/roles"
	apptest.Want(t, c.Do(t, "PUT", path, user.Str("access_token"), map[string]any{"roles": []string{"admin"}}), 403, "forbidden")
	apptest.Want(t, c.Do(t, "PUT", path, "", map[string]any{"roles": []string{"admin"}}), 401, "missing_token")
	apptest.Want(t, c.Do(t, "PUT", path, adminToken, map[string]any{"roles": []string{"superuser"}}), 400, "invalid_role")
	apptest.Want(t, c.Do(t, "PUT", "/api/v1/auth/users/0190f5a0-0000-7000-8000-000000000000/roles", adminToken, map[string]any{"roles": []string{"student"}}), 404, "user_not_found")
	r := c.Do(t, "PUT", path, adminToken, map[string]any{"roles": []string{"instructor", "student"}})
	apptest.Want(t, r, 200, "")
	if got := apptest.Strings(r.Obj("user")["roles"]); !slices.Equal(got, []string{"instructor", "student"}) {
		t.Errorf("got roles %v", got)
	}
	// The new role reaches the client at its next refresh.
	ref := c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": user.Str("refresh_token")})
	apptest.Want(t, ref, 200, "")
	me := c.Do(t, "GET", "/api/v1/auth/me", ref.Str("access_token"), nil)
	if got := apptest.Strings(me.Obj("user")["roles"]); !slices.Equal(got, []string{"instructor", "student"}) {
		t.Errorf("me after refresh: got roles %v", got)
	}
	// Taking a role away ends the user's sessions.
	apptest.Want(t, c.Do(t, "PUT", path, adminToken, map[string]any{"roles": []string{"student"}}), 200, "")
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", ref.Str("access_token"), nil), 401, "")

	// registered and roles_changed (the admin's, then the user's twice) leave through the
	// outbox, keyed by the user they are about.
	recs := kafkatest.ReadAll(t, env["KAFKA_BROKERS"], events.TopicAuth, 5, 20*time.Second)
	var types []string
	for _, rec := range recs {
		ev, err := events.Parse(rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(rec.Key) != ev.PartitionKey {
			t.Errorf("event %s: key %q, want the partition key %q", ev.Type, rec.Key, ev.PartitionKey)
		}
		if ev.PartitionKey != userID {
			continue
		}
		types = append(types, ev.Type)
		if ev.Type == "azora.auth.user.registered" {
			var d map[string]any
			json.Unmarshal(ev.Data, &d)
			if d["user_id"] != userID || d["email"] == nil || d["name"] != "Ada" || d["roles"] == nil {
				t.Errorf("registered data: got %v", d)
			}
		}
	}
	wantTypes := []string{"azora.auth.user.registered", "azora.auth.user.roles_changed", "azora.auth.user.roles_changed"}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("got events %v for the user, want %v", types, wantTypes)
	}
}
