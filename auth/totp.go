package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/azora-os/azora/shared/errs"
)

// TOTP parameters (RFC 6238 defaults that every authenticator app reads).
const (
	totpPeriod      = 30
	totpSkew        = 1 // steps either side of now
	totpSecretBytes = 20
	recoveryCodes   = 10
)

// SetupTOTP implements Service: a fresh 160-bit seed is stored sealed as
// pending; it takes effect once EnableTOTP proves the app has it.
func (s *AuthService) SetupTOTP(ctx context.Context, userID string) (TOTPSetup, error) {
	var setup TOTPSetup
	_, err := s.Users.Update(ctx, userID, func(a *Account) error {
		if a.MFAEnabled {
			return ErrMFAAlreadyEnabled
		}
		key, err := totp.Generate(totp.GenerateOpts{
			Issuer: s.cfg.TOTPIssuer, AccountName: a.Email, Period: totpPeriod,
			SecretSize: totpSecretBytes, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return errs.Internalf(err, "generate TOTP seed")
		}
		sealed, err := s.Sealer.SealAD([]byte(key.Secret()), []byte(a.ID))
		if err != nil {
			return errs.Internalf(err, "seal TOTP seed")
		}
		a.TOTPSecret = sealed
		setup = TOTPSetup{Secret: key.Secret(), OTPAuthURL: key.URL()}
		return nil
	})
	return setup, err
}

// EnableTOTP implements Service.
func (s *AuthService) EnableTOTP(ctx context.Context, userID, code string) ([]string, error) {
	a, err := s.Users.ByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	switch {
	case a.MFAEnabled:
		return nil, ErrMFAAlreadyEnabled
	case a.TOTPSecret == nil:
		return nil, ErrMFANotSetUp
	}
	if err := s.checkCode(ctx, a, code, false); err != nil {
		return nil, err
	}
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	_, err = s.Users.Update(ctx, userID, func(cur *Account) error {
		if cur.MFAEnabled {
			return ErrMFAAlreadyEnabled
		}
		if !slices.Equal(cur.TOTPSecret, a.TOTPSecret) { // a concurrent setup replaced the seed
			return ErrInvalidCode
		}
		cur.MFAEnabled, cur.RecoveryCodes = true, hashes
		return nil
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP implements Service. A recovery code also works, for a user
// who lost the device.
func (s *AuthService) DisableTOTP(ctx context.Context, userID, code string) error {
	a, err := s.Users.ByID(ctx, userID)
	if err != nil {
		return err
	}
	if !a.MFAEnabled {
		return ErrMFANotEnabled
	}
	if err := s.checkCode(ctx, a, code, true); err != nil {
		return err
	}
	_, err = s.Users.Update(ctx, userID, func(cur *Account) error {
		cur.MFAEnabled, cur.TOTPSecret, cur.RecoveryCodes = false, nil, nil
		return nil
	})
	return err
}

// checkCode accepts a TOTP code of a's seed, each time step at most once
// per user, or, when recovery is true, one of a's unused recovery codes,
// which it spends.
func (s *AuthService) checkCode(ctx context.Context, a Account, code string, recovery bool) error {
	code = strings.TrimSpace(code)
	if len(code) == 6 && strings.Trim(code, "0123456789") == "" {
		return s.checkTOTP(ctx, a, code)
	}
	if !recovery {
		return ErrInvalidCode
	}
	want := hashSecret(normalizeRecoveryCode(code))
	_, err := s.Users.Update(ctx, a.ID, func(cur *Account) error {
		i := slices.Index(cur.RecoveryCodes, want)
		if i < 0 {
			return ErrInvalidCode
		}
		cur.RecoveryCodes = slices.Delete(slices.Clone(cur.RecoveryCodes), i, i+1)
		return nil
	})
	return err
}

func (s *AuthService) checkTOTP(ctx context.Context, a Account, code string) error {
	seed, err := s.Sealer.OpenAD(a.TOTPSecret, []byte(a.ID))
	if err != nil {
		return errs.Internalf(err, "open TOTP seed of %s", a.ID)
	}
	now := s.cfg.Clock().Unix() / totpPeriod
	for step := now - totpSkew; step <= now+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(string(seed), time.Unix(step*totpPeriod, 0), totp.ValidateOpts{
			Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return errs.Internalf(err, "compute TOTP code")
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		fresh, err := s.Challenges.UseTOTPStep(ctx, a.ID, step)
		if err != nil {
			return err
		}
		if !fresh {
			return ErrInvalidCode
		}
		return nil
	}
	return ErrInvalidCode
}

// newRecoveryCodes returns codes to show once ("xxxxx-xxxxx", 50 random
// bits each) and the hashes to store.
func newRecoveryCodes() (codes, hashes []string, err error) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for range recoveryCodes {
		b := make([]byte, 7)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, errs.Internalf(err, "random recovery code")
		}
		c := strings.ToLower(enc.EncodeToString(b))[:10]
		codes = append(codes, c[:5]+"-"+c[5:])
		hashes = append(hashes, hashSecret(c))
	}
	return codes, hashes, nil
}

func normalizeRecoveryCode(c string) string {
	return strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(c))
}
