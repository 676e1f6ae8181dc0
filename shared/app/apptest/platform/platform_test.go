package platform_test

import (
	"net/http"
	"testing"

	"github.com/azora-os/azora/shared/app/apptest/platform"
)

func TestMain(m *testing.M) { platform.Main(m) }

// TestStart brings a platform up and checks what every end-to-end test
// relies on: the API answers through NGINX over TLS 1.3, plain HTTP is
// redirected, and every process can be measured and restarted where its
// clients expect it.
func TestStart(t *testing.T) {
	p := platform.Start(t, platform.Options{})
	get := func(what string) int {
		resp, err := p.NGINX.Client.Get(p.NGINX.Base + "/api/v1/courses")
		if err != nil {
			t.Fatalf("%s: GET /api/v1/courses through NGINX: %v", what, err)
		}
		resp.Body.Close()
		if resp.TLS == nil || resp.TLS.Version != 0x0304 {
			t.Errorf("%s: not TLS 1.3: %+v", what, resp.TLS)
		}
		return resp.StatusCode
	}
	if got := get("started"); got != http.StatusOK {
		t.Fatalf("GET /api/v1/courses through NGINX: %d, want 200", got)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(p.NGINX.HTTPBase + "/api/v1/courses")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("plain HTTP: %d, want 301", resp.StatusCode)
	}
	if len(p.Gateways) != 2 {
		t.Errorf("%d gateway replicas, want 2", len(p.Gateways))
	}
	for _, s := range append(p.Services(), p.Redis, p.Kafka) {
		if rss, err := s.RSS(); err != nil || rss <= 0 {
			t.Errorf("%s RSS: %d, %v", s.Name, rss, err)
		}
	}
	p.Education.Kill()
	p.Education.Start()
	p.Kafka.Stop()
	p.Kafka.Start()
	if got := get("restarted"); got != http.StatusOK {
		t.Errorf("after restarts: %d, want 200", got)
	}
}
