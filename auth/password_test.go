package auth

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// cheapArgon2 keeps the tests that are not about cost fast (under -race
// the default parameters take ~120 ms a hash).
var cheapArgon2 = Argon2Params{Time: 1, MemoryKiB: 1024, Threads: 1}

func TestCheckPasswordPolicy(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		weak bool
	}{
		{"9 characters", "tq8vymrz5", true},
		{"10 characters", "tq8vymrz5k", false},
		{"128 characters", strings.Repeat("tq8vymrz5k", 12) + "x7!pQ2#a", false},
		{"129 characters", strings.Repeat("tq8vymrz5k", 12) + "x7!pQ2#ab", true},
		{"empty", "", true},
		{"6 Cyrillic letters are 12 bytes but 6 characters", "пароль", true},
		{"10 two-byte characters", strings.Repeat("é", 10), false},
		{"9 two-byte characters", strings.Repeat("é", 9), true},
		{"10 four-byte characters", strings.Repeat("🔑", 10), false},
		{"128 two-byte characters (256 bytes)", strings.Repeat("ü", 128), false},
		{"129 two-byte characters", strings.Repeat("ü", 129), true},
		{"common: password123", "password123", true},
		{"common: qwertyuiop", "qwertyuiop", true},
		{"common: 1234567890", "1234567890", true},
		{"common: manchester", "manchester", true},
		{"common, other case: PassWord123", "PassWord123", true},
		{"common, other case: QWERTYUIOP", "QWERTYUIOP", true},
		{"common, other case: Terminator", "Terminator", true},
		{"a common one with a suffix is not common", "password123tq8", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.pw)
			switch {
			case tt.weak && !errors.Is(err, ErrWeakPassword):
				t.Fatalf("got %v, want weak_password", err)
			case !tt.weak && err != nil:
				t.Fatalf("got %v, want nil", err)
			}
		})
	}
}

func TestCommonPasswordListIsEmbedded(t *testing.T) {
	set := commonPasswords()
	if len(set) < 10000 {
		t.Fatalf("got %d common passwords, want at least 10000", len(set))
	}
	// Every entry of at least MinPasswordLen characters is refused: the
	// list really is what CheckPassword consults.
	n := 0
	for pw := range set {
		if len([]rune(pw)) < MinPasswordLen || len([]rune(pw)) > MaxPasswordLen {
			continue
		}
		n++
		if err := CheckPassword(strings.ToUpper(pw)); !errors.Is(err, ErrWeakPassword) {
			t.Fatalf("%q (upper-cased): got %v, want weak_password", pw, err)
		}
	}
	if n < 1000 {
		t.Fatalf("only %d entries are 10 characters or longer, want at least 1000", n)
	}
}

func TestArgon2HashVerifyRoundTrip(t *testing.T) {
	h := NewArgon2Hasher(Argon2Params{}) // the defaults
	const pw = "correct horse battery staple"
	enc, err := h.Hash(pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(enc, want) {
		t.Fatalf("got %q, want the prefix %q", enc, want)
	}
	parts := strings.Split(enc, "$")
	if len(parts[4]) != 22 || len(parts[5]) != 43 {
		t.Fatalf("got salt %q and hash %q, want 16 and 32 bytes in unpadded base64", parts[4], parts[5])
	}
	again, _ := h.Hash(pw)
	if again == enc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	tests := []struct {
		name, pw string
		ok       bool
	}{
		{"right password", pw, true},
		{"wrong password", "correct horse battery stapler", false},
		{"other case", "Correct horse battery staple", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.pw, enc)
			if err != nil || ok != tt.ok || rehash {
				t.Fatalf("got ok=%v rehash=%v err=%v, want ok=%v rehash=false", ok, rehash, err, tt.ok)
			}
		})
	}
}

// TestArgon2VerifiesReferenceHashes checks interoperability with the
// reference implementation: these strings were made by the argon2 command
// of the PHC reference code (Debian's argon2 package), e.g.
// echo -n "correct horse battery staple" | argon2 azora-kat-salt16 -id -t 2 -k 19456 -p 1 -l 32 -e
func TestArgon2VerifiesReferenceHashes(t *testing.T) {
	h := NewArgon2Hasher(Argon2Params{})
	tests := []struct {
		name, pw, enc string
		rehash        bool
	}{
		{"default params", "correct horse battery staple",
			"$argon2id$v=19$m=19456,t=2,p=1$YXpvcmEta2F0LXNhbHQxNg$Iiy7LIFu/9KPyJyuctGMf2L3qEZijKu+E5pZyzeOuUg", false},
		{"other params, non-ASCII password", "pässwörd ✓ with unicode",
			"$argon2id$v=19$m=1024,t=1,p=2$MDEyMzQ1Njc4OWFiY2RlZg$BI7k+lH5VIGGDH0fs/xBu9o+EkXchDho", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.pw, tt.enc)
			if err != nil || !ok || rehash != tt.rehash {
				t.Fatalf("got ok=%v rehash=%v err=%v, want ok=true rehash=%v", ok, rehash, err, tt.rehash)
			}
			if ok, _, _ := h.Verify(tt.pw+" ", tt.enc); ok {
				t.Fatal("a different password verified")
			}
		})
	}
}

func TestArgon2HashesEveryByte(t *testing.T) {
	h := NewArgon2Hasher(cheapArgon2)
	long := strings.Repeat("ü", MaxPasswordLen) // 256 bytes: past bcrypt's 72-byte cut-off
	enc, err := h.Hash(long)
	if err != nil {
		t.Fatal(err)
	}
	other := long[:len(long)-2] + "ä"
	if ok, _, err := h.Verify(other, enc); ok || err != nil {
		t.Fatalf("a password differing only in its last character: got ok=%v err=%v, want false", ok, err)
	}
	if ok, _, err := h.Verify(long, enc); !ok || err != nil {
		t.Fatalf("the password itself: got ok=%v err=%v, want true", ok, err)
	}
}

func TestArgon2RehashWhenParamsChange(t *testing.T) {
	old := NewArgon2Hasher(cheapArgon2)
	enc, err := old.Hash("a password of some length")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		p      Argon2Params
		rehash bool
	}{
		{"same params", cheapArgon2, false},
		{"more time", Argon2Params{Time: 2, MemoryKiB: 1024, Threads: 1}, true},
		{"more memory", Argon2Params{Time: 1, MemoryKiB: 2048, Threads: 1}, true},
		{"more threads", Argon2Params{Time: 1, MemoryKiB: 1024, Threads: 2}, true},
		{"longer salt", Argon2Params{Time: 1, MemoryKiB: 1024, Threads: 1, SaltLen: 32}, true},
		{"longer hash", Argon2Params{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 64}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := NewArgon2Hasher(tt.p).Verify("a password of some length", enc)
			if err != nil || !ok || rehash != tt.rehash {
				t.Fatalf("got ok=%v rehash=%v err=%v, want ok=true rehash=%v", ok, rehash, err, tt.rehash)
			}
		})
	}
}

func TestArgon2MalformedHash(t *testing.T) {
	h := NewArgon2Hasher(cheapArgon2)
	good, err := h.Hash("a password of some length")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := slices.Clone(parts)
		p[i] = v
		return strings.Join(p, "$")
	}
	tests := map[string]string{
		"empty":               "",
		"bcrypt":              "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":             with(1, "argon2i"),
		"version 16":          with(2, "v=16"),
		"params out of order": with(3, "t=1,m=1024,p=1"),
		"missing p":           with(3, "m=1024,t=1"),
		"zero time":           with(3, "m=1024,t=0,p=1"),
		"huge memory":         with(3, "m=4294967295,t=1,p=1"),
		"too little memory":   with(3, "m=4,t=1,p=1"),
		"leading zero":        with(3, "m=01024,t=1,p=1"),
		"salt not base64":     with(4, "!!!!"),
		"padded salt":         with(4, parts[4]+"=="),
		"short salt":          with(4, "AAAA"),
		"hash not base64":     with(5, "*"),
		"short hash":          with(5, "AAAAAAAA"),
		"extra field":         good + "$x",
		"no leading dollar":   strings.TrimPrefix(good, "$"),
	}
	for name, enc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, rehash, err := h.Verify("a password of some length", enc)
			if !errors.Is(err, errMalformedHash) || ok || rehash {
				t.Fatalf("got ok=%v rehash=%v err=%v, want malformed_password_hash", ok, rehash, err)
			}
		})
	}
}

// TestArgon2DummyCostsAVerify checks that an unknown email's login costs
// what a wrong password's does. Runs alternate between the two, so a burst
// of load from other processes hits both alike, and medians ignore the odd
// slow run; a busy machine gets two more tries before the test fails.
func TestArgon2DummyCostsAVerify(t *testing.T) {
	h := NewArgon2Hasher(Argon2Params{}) // the defaults: the cost that matters
	enc, err := h.Hash("the real password")
	if err != nil {
		t.Fatal(err)
	}
	const runs = 5
	var verify, dummy time.Duration
	for attempt := 1; attempt <= 3; attempt++ {
		var vs, ds []time.Duration
		for range runs {
			start := time.Now()
			_, _, _ = h.Verify("a wrong password", enc)
			vs = append(vs, time.Since(start))
			start = time.Now()
			h.Dummy("a wrong password")
			ds = append(ds, time.Since(start))
		}
		verify, dummy = argon2Median(vs), argon2Median(ds)
		ratio := float64(dummy) / float64(verify)
		t.Logf("attempt %d: Verify median %v, Dummy median %v (ratio %.2f)", attempt, verify, dummy, ratio)
		if ratio >= 0.7 && ratio <= 1.3 {
			return
		}
	}
	t.Fatalf("Dummy takes %v, a wrong-password Verify %v: want within 30%%", dummy, verify)
}

func argon2Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func BenchmarkHash(b *testing.B) {
	h := NewArgon2Hasher(Argon2Params{})
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
	argon2ReportMs(b)
}

func BenchmarkVerify(b *testing.B) {
	h := NewArgon2Hasher(Argon2Params{})
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify("correct horse battery staple", enc); !ok || err != nil {
			b.Fatalf("got %v, %v", ok, err)
		}
	}
	argon2ReportMs(b)
}

func argon2ReportMs(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed())/float64(time.Millisecond)/float64(b.N), "ms/op")
}

// TestArgon2HasherBoundsHashesInFlight fills every slot, as GOMAXPROCS
// hashes in progress would: another Verify then waits instead of
// allocating its own MemoryKiB, and goes ahead once a slot frees.
func TestArgon2HasherBoundsHashesInFlight(t *testing.T) {
	h := NewArgon2Hasher(Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if got, want := cap(h.slots), runtime.GOMAXPROCS(0); got != want {
		t.Fatalf("slots: %d, want GOMAXPROCS = %d", got, want)
	}
	encoded, _ := h.Hash("correct horse")
	for range cap(h.slots) {
		h.slots <- struct{}{}
	}
	done := make(chan bool)
	go func() {
		ok, _, _ := h.Verify("correct horse", encoded)
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("Verify ran with every slot taken")
	case <-time.After(100 * time.Millisecond):
	}
	<-h.slots
	select {
	case ok := <-done:
		if !ok {
			t.Error("Verify after the wait: false, want true")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Verify still waiting after a slot freed")
	}
	for range cap(h.slots) - 1 {
		<-h.slots
	}
}
