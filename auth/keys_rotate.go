package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"time"

	"github.com/go-kit/log/level"

	"github.com/azora-os/azora/shared/errs"
)

// Rotate adds a new signing key: published at once, signing from
// PrePublish later, when the keys in use are marked retired. When no key
// signs at all (the very first start), the new key signs at once, since
// there is no verifier to catch out and waiting would only prolong the
// outage. It returns false, adding nothing, when a new key is already
// waiting to take over or another instance rotated since this one read the
// store, so instances rotating together add one key. It re-reads the store
// afterwards so this instance publishes the key at once. Errors: the
// store's; internal when sealing fails; invalid_key_config.
func (m *KeyManager) Rotate(ctx context.Context) (bool, error) {
	return m.rotate(ctx, nil)
}

// rotate is Rotate, adding a key only when due (nil: always) says so of
// the keys just read from the store: the caller decided on an older read,
// and another instance may have acted since.
func (m *KeyManager) rotate(ctx context.Context, due func(stored []SigningKey, now time.Time) bool) (bool, error) {
	if m.cfgErr != nil {
		return false, m.cfgErr
	}
	stored, err := m.store.List(ctx)
	if err != nil {
		return false, err
	}
	// Postgres keeps microseconds; rounding here makes the times we
	// compare with later the ones the store gives back.
	now := m.now().Round(0).Truncate(time.Microsecond)
	if due != nil && !due(stored, now) {
		return false, nil
	}
	var newest time.Time // the compare-and-swap guard for Add
	for _, k := range stored {
		if k.CreatedAt.After(newest) {
			newest = k.CreatedAt
		}
		if k.ActiveFrom.After(now) {
			level.Info(m.logger).Log("msg", "a new signing key is already waiting to take over; not rotating",
				"kid", k.ID, "active_from", k.ActiveFrom)
			return false, nil
		}
	}
	next, err := m.newKey(now)
	if err != nil {
		return false, err
	}
	if anySigns(stored, now) {
		next.ActiveFrom = now.Add(m.cfg.PrePublish)
	}
	added, err := m.store.Add(ctx, next, newest)
	if err != nil {
		return false, err
	}
	if added {
		level.Info(m.logger).Log("msg", "signing key added", "kid", next.ID, "bits", m.cfg.RSABits,
			"active_from", next.ActiveFrom)
	} else {
		level.Info(m.logger).Log("msg", "another instance rotated the signing key first")
	}
	if _, err := m.reload(ctx); err != nil {
		level.Warn(m.logger).Log("msg", "cannot re-read signing keys after rotating", "err", err)
	}
	return added, nil
}

// anySigns reports whether one of stored signs at now.
func anySigns(stored []SigningKey, now time.Time) bool {
	for _, k := range stored {
		if !k.ActiveFrom.After(now) && (k.RetiredAt.IsZero() || now.Before(k.RetiredAt)) {
			return true
		}
	}
	return false
}

// noneSigns is rotate's condition for adding a key only when none signs.
func noneSigns(stored []SigningKey, now time.Time) bool { return !anySigns(stored, now) }

// newKey generates and seals a key created (and, until Rotate says
// otherwise, active) at now.
func (m *KeyManager) newKey(now time.Time) (SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, m.cfg.RSABits)
	if err != nil {
		return SigningKey{}, errs.Internalf(err, "generate signing key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return SigningKey{}, errs.Internalf(err, "encode signing key")
	}
	sealed, err := m.sealer.Seal(der)
	clear(der)
	if err != nil {
		return SigningKey{}, errs.Internalf(err, "seal signing key")
	}
	kid, err := thumbprint(&priv.PublicKey)
	if err != nil {
		return SigningKey{}, errs.Internalf(err, "signing key thumbprint")
	}
	return SigningKey{ID: kid, Sealed: sealed, CreatedAt: now, ActiveFrom: now}, nil
}

// EnsureKey makes sure a key signs now, adding one when the store has none
// in use; main calls it before serving. It fails loudly rather than work
// around a key it cannot open (a wrong key-encryption key would otherwise
// make each instance mint keys the others cannot read). Errors: the
// store's; signing_key_unreadable (internal); no_signing_key when, after
// all, no key signs; invalid_key_config.
func (m *KeyManager) EnsureKey(ctx context.Context) error {
	if m.cfgErr != nil {
		return m.cfgErr
	}
	s, err := m.reload(ctx)
	if err != nil {
		return err
	}
	k := s.signing(m.now())
	if k == nil {
		if _, err := m.rotate(ctx, noneSigns); err != nil {
			return err
		}
		if s, err = m.reload(ctx); err != nil {
			return err
		}
		if k = s.signing(m.now()); k == nil {
			return ErrNoSigningKey
		}
	}
	if k.err != nil {
		return k.err
	}
	level.Info(m.logger).Log("msg", "signing key ready", "kid", k.meta.ID, "keys", len(s.keys))
	return nil
}

// Run keeps the keys in order until ctx ends, every Refresh: it re-reads
// the store (so rotations by other instances are published), adds a key
// when none signs, rotates when the newest key is older than RotateEvery,
// and purges keys whose tokens have all expired. Failures are logged and
// retried on the next round; it returns nil when ctx ends, or
// invalid_key_config at once.
func (m *KeyManager) Run(ctx context.Context) error {
	if m.cfgErr != nil {
		return m.cfgErr
	}
	t := time.NewTicker(m.cfg.Refresh)
	defer t.Stop()
	for {
		m.maintain(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// maintain is one round of Run.
func (m *KeyManager) maintain(ctx context.Context) {
	s, err := m.reload(ctx)
	if err != nil {
		level.Warn(m.logger).Log("msg", "cannot re-read signing keys; keeping the ones loaded", "err", err)
		return
	}
	now := m.now()
	var newest *keyEntry
	expired := false
	for _, k := range s.keys {
		if newest == nil || k.meta.CreatedAt.After(newest.meta.CreatedAt) {
			newest = k
		}
		expired = expired || !m.published(k.meta, now)
	}
	switch {
	case s.signing(now) == nil && (newest == nil || !newest.meta.ActiveFrom.After(now)):
		level.Warn(m.logger).Log("msg", "no signing key in use; adding one")
		m.rotateLogged(ctx, noneSigns)
	case m.cfg.RotateEvery > 0 && now.Sub(newest.meta.CreatedAt) >= m.cfg.RotateEvery:
		m.rotateLogged(ctx, m.rotationDue)
	}
	if expired {
		if err := m.store.Purge(ctx, now.Add(-m.retention())); err != nil {
			level.Error(m.logger).Log("msg", "cannot purge expired signing keys", "err", err)
			return
		}
		if _, err := m.reload(ctx); err != nil {
			level.Warn(m.logger).Log("msg", "cannot re-read signing keys after purging", "err", err)
		}
	}
}

// rotationDue is rotate's condition for the scheduled rotation: the
// newest key is RotateEvery old.
func (m *KeyManager) rotationDue(stored []SigningKey, now time.Time) bool {
	for _, k := range stored {
		if now.Sub(k.CreatedAt) < m.cfg.RotateEvery {
			return false
		}
	}
	return true
}

func (m *KeyManager) rotateLogged(ctx context.Context, due func([]SigningKey, time.Time) bool) {
	if _, err := m.rotate(ctx, due); err != nil {
		level.Error(m.logger).Log("msg", "cannot rotate the signing key", "err", err)
	}
}
