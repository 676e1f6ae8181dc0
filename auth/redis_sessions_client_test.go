package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/auth"
)

const rdsClient = "0190d6a0-0000-7000-8000-0000000c1e47"

// TestRedisSessionsRevokeClient: deleting a client revokes its users'
// sessions and its client_credentials grants, leaves other clients' and
// first-party sessions alone, and refuses any grant made after it.
func TestRedisSessionsRevokeClient(t *testing.T) {
	s, c, prefix := rdsSessions(t)
	ctx := context.Background()
	const other = "0190d6a0-0000-7000-8000-0000000c1e48"
	session := func(n int, client string) auth.Session {
		sess := rdsSession(n, fmt.Sprintf("user-%d", n), time.Hour)
		sess.ClientID, sess.Scope = client, []string{auth.ScopeOpenID}
		rdsCreate(t, s, sess, "r1")
		return sess
	}
	mine, theirs, firstParty := session(1, rdsClient), session(2, other), session(3, "")
	grant, otherGrant := rdsSession(4, "", 0).ID, rdsSession(5, "", 0).ID
	if err := s.TrackGrant(ctx, rdsClient, grant, time.Now().Add(rdsAccessTTL)); err != nil {
		t.Fatal(err)
	}
	if err := s.TrackGrant(ctx, other, otherGrant, time.Now().Add(rdsAccessTTL)); err != nil {
		t.Fatal(err)
	}
	ps := rdsSubscribe(t, c, prefix)

	if err := s.RevokeClient(ctx, rdsClient); err != nil {
		t.Fatal(err)
	}
	published := map[string]bool{}
	for range 2 {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		published[msg.Payload] = true
	}
	if !published[mine.ID] || !published[grant] {
		t.Errorf("published %v, want %s and %s", published, mine.ID, grant)
	}
	for _, sid := range []string{mine.ID, grant} {
		rdsWantRevoked(t, c, prefix, sid, true)
	}
	_, err := s.RotateClient(ctx, mine.ID, rdsClient, "r1", "r2")
	rdsWantErr(t, "refreshing the deleted client's session", err, auth.ErrInvalidRefreshToken)
	for _, sid := range []string{theirs.ID, firstParty.ID, otherGrant} {
		rdsWantRevoked(t, c, prefix, sid, false)
	}
	if _, err := s.RotateClient(ctx, theirs.ID, other, "r1", "r2"); err != nil {
		t.Errorf("another client's session: %v", err)
	}

	t.Run("grants after the deletion are refused", func(t *testing.T) {
		late := rdsSession(6, "user-6", time.Hour)
		late.ClientID = rdsClient
		rdsWantErr(t, "a session for the deleted client", s.Create(ctx, late, "x1"), auth.ErrInvalidClient)
		if _, _, err := s.Get(ctx, late.ID); !errors.Is(err, auth.ErrInvalidRefreshToken) {
			t.Errorf("the refused session was stored: %v", err)
		}
		rdsWantErr(t, "a client_credentials grant", s.TrackGrant(ctx, rdsClient, rdsSession(7, "", 0).ID, time.Now().Add(time.Minute)), auth.ErrInvalidClient)
		if err := s.TrackGrant(ctx, other, rdsSession(8, "", 0).ID, time.Now().Add(time.Minute)); err != nil {
			t.Errorf("another client's grant: %v", err)
		}
	})
	t.Run("the deleted mark lives as long as an access token", func(t *testing.T) {
		ttl, err := c.PTTL(ctx, prefix+"client:{"+rdsClient+"}:deleted").Result()
		if err != nil || ttl < rdsAccessTTL || ttl > rdsAccessTTL+2*time.Minute {
			t.Errorf("ttl %v (%v), want the revocation marks' lifetime", ttl, err)
		}
	})
}

// TestRedisSessionsRevokeClientRacesGrants deletes a client while 8
// workers keep granting it tokens, each until it is refused: every grant
// that was made is revoked; none survives the deletion.
func TestRedisSessionsRevokeClientRacesGrants(t *testing.T) {
	s, c, prefix := rdsSessions(t)
	ctx := context.Background()
	const workers, before = 8, 100
	var (
		mu      sync.Mutex
		granted []string
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	enough := make(chan struct{})
	var once sync.Once
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10000 {
				sid := rdsSession(int(100+next.Add(1)), "", 0).ID
				err := s.TrackGrant(ctx, rdsClient, sid, time.Now().Add(rdsAccessTTL))
				if errors.Is(err, auth.ErrInvalidClient) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				granted = append(granted, sid)
				if len(granted) == before {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
			t.Error("a worker was never refused")
		}()
	}
	<-enough
	if err := s.RevokeClient(ctx, rdsClient); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, sid := range granted {
		rdsWantRevoked(t, c, prefix, sid, true)
	}
	t.Logf("%d grants made while the deletion ran, all revoked; each of %d workers then refused", len(granted), workers)
}
