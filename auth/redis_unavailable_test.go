package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/errs"
)

// TestRedisAdaptersUnavailable: every Redis adapter answers 503 when Redis
// does not.

func TestRedisAdaptersUnavailable(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	defer dead.Close()
	ctx := context.Background()
	s := auth.NewRedisSessions(dead, "test:", rdsAccessTTL)
	ch := auth.NewRedisChallenges(dead, "test:")
	l := auth.NewRedisLimiter(dead, "test:")
	sess := rdsSession(1, "user-1", time.Hour)
	token := strings.Repeat("A", 43)
	for name, call := range map[string]func() error{
		"Create":      func() error { return s.Create(ctx, sess, "h") },
		"Rotate":      func() error { _, err := s.Rotate(ctx, sess.ID, "h", "i"); return err },
		"Revoke":      func() error { return s.Revoke(ctx, sess.ID) },
		"RevokeUser":  func() error { return s.RevokeUser(ctx, "user-1") },
		"NewMFA":      func() error { _, err := ch.NewMFA(ctx, auth.MFAChallenge{UserID: "u"}, time.Minute); return err },
		"AttemptMFA":  func() error { _, err := ch.AttemptMFA(ctx, token, 5); return err },
		"DeleteMFA":   func() error { return ch.DeleteMFA(ctx, token) },
		"UseTOTPStep": func() error { _, err := ch.UseTOTPStep(ctx, "u", 1); return err },
		"Allow": func() error {
			_, err := l.Allow(ctx, "k", auth.Limit{Rate: 1, Burst: 1, Period: time.Second}, 1)
			return err
		},
		"Peek": func() error {
			_, err := l.Allow(ctx, "k", auth.Limit{Rate: 1, Burst: 1, Period: time.Second}, 0)
			return err
		},
		"Reset": func() error { return l.Reset(ctx, "k") },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			if got := errs.KindOf(err); err == nil || got != errs.Unavailable {
				t.Errorf("got %v (kind %s), want unavailable", err, got)
			}
		})
	}
}
