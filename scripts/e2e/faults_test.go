package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/app/apptest/platform"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/events/kafkatest"
	"github.com/azora-os/azora/shared/revocation"
)

// The fault runs: the platform under a burst or a steady trickle of real
// client traffic while one of its parts fails, then the books checked to
// the cent. Each run has a platform of its own, since it breaks it.

// faultFeeBasisPoints is the platform fee of the runs that charge
// enrollments (finance's default, set explicitly so the sums below are
// the setting's).
const faultFeeBasisPoints = 1000

func faultFee(price int64) int64 { return price * faultFeeBasisPoints / 10000 }

// faultStudent is a student of a fault run with the wallet finance opened
// for it and what the run paid into it.
type faultStudent struct {
	*user
	wallet string
	funded int64
}

// TestFinanceKilledDuringPaidEnrollments fires 500 paid enrollment requests
// (50 students × 10 courses of one instructor) through NGINX from 16
// workers and kills finance with SIGKILL once 150 have been accepted, then
// starts it again 1.5 s later. Half the students can afford every course,
// the other half only some, so the saga ends both ways. While finance is
// down, a wallet read is refused promptly with the gateway's
// upstream_unavailable problem (circuit_open, with Retry-After, once the
// instance's circuit opened), and any enrollment request refused at the
// edge must be a problem document too (it is retried with the same
// Idempotency-Key and counted). Once no enrollment is pending: every
// accepted request is exactly one enrollment, active or cancelled for
// insufficient_funds; each student's wallet is what was paid
// in less the prices of their active enrollments, with one charge per
// active enrollment and nothing else; the instructor holds exactly the
// price less the fee of every active enrollment; and finance published one
// payment outcome per enrollment, never two.
func TestFinanceKilledDuringPaidEnrollments(t *testing.T) {
	const (
		nStudents = 50
		nCourses  = 10
		total     = nStudents * nCourses
		workers   = 16
		killAfter = 150
		downFor   = 1500 * time.Millisecond
	)
	begin := time.Now()
	p := platform.Start(t, platform.Options{Env: faultEnv("FINANCE_FEE_BASIS_POINTS", strconv.Itoa(faultFeeBasisPoints))})
	t.Logf("platform up in %v", time.Since(begin).Round(time.Millisecond))

	setup := time.Now()
	run := unique(t)
	inst := register(t, p, "Ines Instructor", "instructor")
	courses := make([]course, nCourses)
	var everything int64 // what one student pays for every course
	for i := range courses {
		courses[i] = newCourse(t, p, inst, fmt.Sprintf("Fault course %d %s", i, run), 1000+100*int64(i), 1)
		everything += courses[i].Price
	}
	students := make([]*faultStudent, nStudents)
	for i := range students {
		students[i] = &faultStudent{user: register(t, p, fmt.Sprintf("Student %d", i), "")}
	}
	for i, s := range students {
		s.wallet = defaultWallet(t, p, s.user)
		// Even students can pay for everything; odd ones for two to four
		// courses, which ones depending on the order finance sees them.
		s.funded = everything
		if i%2 == 1 {
			s.funded = 3000 + 250*int64(i%9)
		}
		fund(t, p, s.user, s.wallet, s.funded)
	}
	instWallet := defaultWallet(t, p, inst)
	t.Logf("set-up (1 instructor, %d courses, %d students registered and funded) in %v",
		nCourses, nStudents, time.Since(setup).Round(time.Millisecond))

	// The burst: every (student, course) pair once, in random order.
	type job struct{ s, c int }
	jobs := make(chan job, total)
	for _, i := range rand.Perm(total) {
		jobs <- job{i / nCourses, i % nCourses}
	}
	close(jobs)
	var (
		mu         sync.Mutex
		ids        = map[job]string{} // the enrollment each request was answered with
		refused    = map[string]int{} // edge refusals retried, by status and code
		problems   []string           // answers that break the contract
		notProblem string             // the first refusal that was not a problem document
		replayed   int
		accepted   atomic.Int64
		killNow    = make(chan struct{})
		killOnce   sync.Once
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	burstDeadline := time.Now().Add(45 * time.Second)
	var wg sync.WaitGroup
	burst := time.Now()
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				s, c := students[j.s], courses[j.c]
				path := "/api/v1/courses/" + c.ID + "/enrollments"
				key := "fault-enroll-" + s.ID + "-" + c.ID
				for attempt := 1; ; attempt++ {
					r, _, err := faultDo(p, 20*time.Second, http.MethodPost, path, s.Token, nil, "Idempotency-Key", key)
					retry := false
					switch {
					case err != nil:
						mu.Lock()
						refused["no answer"]++
						mu.Unlock()
						retry = true
					case r.Status >= 500 || (r.Status == http.StatusConflict && r.Str("code") == "idempotency_in_progress"):
						what := fmt.Sprint(r.Status, " ", r.Str("code"))
						msg := ""
						if r.Status >= 500 {
							msg = faultProblem(r, r.Status, "")
						}
						mu.Lock()
						if msg != "" {
							what = fmt.Sprint(r.Status, " not a problem (", r.Header.Get("Content-Type"), ")")
							if notProblem == "" {
								notProblem = msg
							}
						}
						refused[what]++
						mu.Unlock()
						retry = true
					case r.Status == http.StatusAccepted:
						e := r.Obj("enrollment")
						if e["status"] != "pending_payment" || e["course_id"] != c.ID || e["user_id"] != s.ID || e["id"] == nil {
							fail("student %d course %d: 202 %s, want a pending_payment enrollment of this student and course", j.s, j.c, r.Raw)
							break
						}
						if m, _ := e["price"].(map[string]any); m == nil || m["amount"] != float64(c.Price) || m["currency"] != currency {
							fail("student %d course %d: price %v, want %d %s", j.s, j.c, e["price"], c.Price, currency)
						}
						mu.Lock()
						ids[j] = e["id"].(string)
						if r.Header.Get("Idempotent-Replayed") == "true" {
							replayed++
						}
						mu.Unlock()
						if accepted.Add(1) == killAfter {
							killOnce.Do(func() { close(killNow) })
						}
					default:
						fail("student %d course %d: got %d %s, want 202", j.s, j.c, r.Status, r.Raw)
					}
					if !retry {
						break
					}
					if time.Now().After(burstDeadline) {
						fail("student %d course %d: still refused after %d attempts: %d %s %v", j.s, j.c, attempt, r.Status, r.Raw, err)
						break
					}
					time.Sleep(time.Duration(min(attempt, 10)) * 100 * time.Millisecond)
				}
			}
		})
	}
	burstDone := make(chan struct{})
	go func() { wg.Wait(); close(burstDone) }()

	select {
	case <-killNow:
	case <-burstDone:
		t.Fatalf("the burst ended (%d accepted) before finance could be killed at %d", accepted.Load(), killAfter)
	}
	killedAt := time.Since(burst)
	p.Finance.Kill()
	t.Logf("finance killed (SIGKILL) %v into the burst, %d requests accepted by then", killedAt.Round(time.Millisecond), accepted.Load())

	// While finance is down, a call that needs it is refused at once with
	// a problem document (the gateway's upstream_unavailable, or
	// circuit_open once the instance's circuit opened), not left to hang. The enrollment requests do not need finance: education queues
	// enrollment.requested for it.
	down := time.Now()
	probes, slowest, firstBad := map[string]int{}, time.Duration(0), ""
	for n := 0; time.Since(down) < downFor; n++ {
		r, took, err := faultDo(p, 10*time.Second, http.MethodGet, "/api/v1/wallets", students[n%nStudents].Token, nil)
		slowest = max(slowest, took)
		what, msg := fmt.Sprint(r.Status, " ", r.Str("code")), ""
		switch {
		case err != nil:
			what, msg = "no answer", err.Error()
		case took > 3*time.Second:
			msg = fmt.Sprintf("took %v, want under 3 s", took)
		case r.Status == http.StatusServiceUnavailable:
			// The dead instance's circuit opened: refused at once, with
			// the time to try again.
			if msg = faultProblem(r, r.Status, "circuit_open"); msg == "" && r.Header.Get("Retry-After") == "" {
				msg = "circuit_open without Retry-After"
			}
		default:
			// The gateway answers 502 when no instance can be reached.
			msg = faultProblem(r, http.StatusBadGateway, "upstream_unavailable")
		}
		if msg != "" {
			what = fmt.Sprint(what, "(not a problem: ", r.Header.Get("Content-Type"), ")")
			if firstBad == "" {
				firstBad = msg
			}
		}
		probes[what]++
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("wallet reads while finance was down: {%s}, slowest %v", faultCounts(probes), slowest.Round(time.Millisecond))
	if firstBad != "" {
		t.Errorf("wallet reads while finance was down: {%s}, not all a prompt upstream_unavailable problem; the first: %s", faultCounts(probes), firstBad)
	}
	restart := time.Now()
	p.Finance.Start()
	t.Logf("finance down %v, ready again %v after its start", time.Since(down).Round(time.Millisecond), time.Since(restart).Round(time.Millisecond))

	<-burstDone
	t.Logf("burst of %d requests (%d workers) done in %v: %d accepted (%d replayed), edge refusals retried: {%s}",
		total, workers, time.Since(burst).Round(time.Millisecond), accepted.Load(), replayed, faultCounts(refused))
	for _, msg := range problems {
		t.Error(msg)
	}
	if notProblem != "" {
		t.Errorf("enrollment requests refused at the edge while finance was down without a problem document: {%s}; the first: %s",
			faultCounts(refused), notProblem)
	}
	if len(ids) != total {
		t.Fatalf("%d of %d enrollment requests accepted", len(ids), total)
	}
	seen := map[string]job{}
	for j, id := range ids {
		if other, dup := seen[id]; dup {
			t.Fatalf("enrollment %s answered both %v and %v", id, other, j)
		}
		seen[id] = j
	}

	// Every enrollment leaves pending_payment: finance, restarted, picks
	// up the requests it had not answered.
	lists := make([][]map[string]any, nStudents)
	pending := map[int]bool{}
	for i := range students {
		pending[i] = true
	}
	took, ok := faultWait(60*time.Second, func() bool {
		for i := range pending {
			lists[i] = faultList(t, p, students[i].user, "/api/v1/enrollments")
			still := false
			for _, e := range lists[i] {
				still = still || e["status"] == "pending_payment"
			}
			if !still {
				delete(pending, i)
			}
		}
		return len(pending) == 0
	})
	if !ok {
		t.Fatalf("after %v, %d students still have an enrollment pending_payment", took, len(pending))
	}
	t.Logf("every enrollment settled %v after the burst ended (%v after finance restarted)",
		took.Round(time.Millisecond), time.Since(restart).Round(time.Millisecond))

	// The books.
	statuses := map[string]int{}
	var instExpected int64
	var instCharges []int64
	for i, s := range students {
		var paid int64
		var charges []int64
		byCourse := map[string]bool{}
		for _, e := range lists[i] {
			cid, _ := e["course_id"].(string)
			ci := -1
			for k := range courses {
				if courses[k].ID == cid {
					ci = k
				}
			}
			if ci < 0 || byCourse[cid] || e["id"] != ids[job{i, ci}] {
				t.Errorf("student %d: enrollment %v is not one of the accepted requests (or a second one for its course)", i, e)
				continue
			}
			byCourse[cid] = true
			st, _ := e["status"].(string)
			statuses[st]++
			switch st {
			case "active":
				paid += courses[ci].Price
				charges = append(charges, -courses[ci].Price)
				instCharges = append(instCharges, courses[ci].Price-faultFee(courses[ci].Price))
				instExpected += courses[ci].Price - faultFee(courses[ci].Price)
			case "cancelled":
				if e["cancel_reason"] != "insufficient_funds" {
					t.Errorf("student %d: enrollment %v cancelled for %v, want insufficient_funds", i, e["id"], e["cancel_reason"])
				}
			default:
				t.Errorf("student %d: enrollment %v in status %q, want active or cancelled", i, e["id"], st)
			}
		}
		if len(byCourse) != nCourses || len(lists[i]) != nCourses {
			t.Errorf("student %d: %d enrollments over %d courses, want exactly one in each of %d", i, len(lists[i]), len(byCourse), nCourses)
		}
		if i%2 == 0 && paid != everything {
			t.Errorf("student %d could pay for every course but paid %d of %d", i, paid, everything)
		}
		if got, want := balance(t, p, s.user, s.wallet), s.funded-paid; got != want {
			t.Errorf("student %d: balance %d, want %d (funded %d less %d for %d active enrollments)", i, got, want, s.funded, paid, len(charges))
		}
		// One top-up, one charge per active enrollment, nothing else
		// (a second charge or a refund would show here).
		faultWantLedger(t, fmt.Sprint("student ", i), faultList(t, p, s.user, "/api/v1/wallets/"+s.wallet+"/transactions"),
			map[string][]int64{"topup": {s.funded}, "enrollment_charge": charges})
	}
	t.Logf("enrollments: %s", faultCounts(statuses))
	if statuses["active"] == 0 || statuses["cancelled"] == 0 {
		t.Errorf("want both outcomes, got %s", faultCounts(statuses))
	}
	if got := balance(t, p, inst, instWallet); got != instExpected {
		t.Errorf("instructor balance %d, want %d: (price − fee) of the %d active enrollments", got, instExpected, statuses["active"])
	}
	faultWantLedger(t, "instructor", faultList(t, p, inst, "/api/v1/wallets/"+instWallet+"/transactions"),
		map[string][]int64{"enrollment_charge": instCharges})

	// Finance answered each request once: one payment.completed or
	// payment.failed per enrollment, whatever it redid after the kill.
	outcomes := map[string][]string{} // enrollment id → event types, one per distinct event id
	seenEvent := map[string]bool{}
	redelivered := 0
	for _, rec := range kafkatest.ReadAll(t, p.Kafka.Addr, events.TopicFinance, 0, 20*time.Second) {
		ev, err := events.Parse(rec.Value)
		if err != nil {
			t.Fatalf("finance event at offset %d: %v", rec.Offset, err)
		}
		if ev.Type != "azora.finance.payment.completed" && ev.Type != "azora.finance.payment.failed" {
			continue
		}
		if seenEvent[ev.ID] {
			redelivered++ // the relay's at-least-once: the same event again
			continue
		}
		seenEvent[ev.ID] = true
		var d struct {
			EnrollmentID string `json:"enrollment_id"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatalf("%s %s: %v", ev.Type, ev.ID, err)
		}
		outcomes[d.EnrollmentID] = append(outcomes[d.EnrollmentID], ev.Type)
	}
	for j, id := range ids {
		if len(outcomes[id]) != 1 {
			t.Errorf("enrollment %s (student %d, course %d): finance published %v, want one outcome", id, j.s, j.c, outcomes[id])
		}
	}
	t.Logf("payment outcomes published: %d distinct events for %d enrollments, %d republished copies", len(seenEvent), total, redelivered)
	t.Logf("whole run %v", time.Since(begin).Round(time.Millisecond))
}

// faultWantLedger checks that entries (a wallet's ledger) are exactly want: for
// each kind, the multiset of signed amounts, and no entry of another kind.
func faultWantLedger(t *testing.T, who string, entries []map[string]any, want map[string][]int64) {
	t.Helper()
	got := map[string][]int64{}
	for _, e := range entries {
		k, _ := e["kind"].(string)
		got[k] = append(got[k], num(t, e["amount"]))
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: ledger has %d %q entries %v, want none", who, len(got[k]), k, got[k])
		}
	}
	for k, w := range want {
		g := got[k]
		sort.Slice(g, func(a, b int) bool { return g[a] < g[b] })
		w = append([]int64(nil), w...)
		sort.Slice(w, func(a, b int) bool { return w[a] < w[b] })
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: %q entries %v (%d), want %v (%d)", who, k, g, len(g), w, len(w))
		}
	}
}

// faultProbe is one kind of call a fault run repeats during an outage.
type faultProbe struct {
	name string
	// call sends the request (attempt n of the run) with faultDo.
	call func(n int) (apptest.Reply, time.Duration, error)
	// judge returns "" when r is the answer the outage should give to a
	// call sent that long into it.
	judge func(r apptest.Reply, into time.Duration) string
}

// faultTally is what the probes got during an outage: answers counted by
// probe and outcome, the slowest of each, and the first wrong answer.
type faultTally struct {
	mu      sync.Mutex
	counts  map[string]map[string]int
	slowest map[string]time.Duration
	wrong   map[string]string
}

// faultRunProbes runs each probe in a loop of its own, a call every
// 250 ms, starting calls for d. Each answer must come within 3 s (a call
// that hangs is given up after 10 s) and satisfy its probe's judge.
func faultRunProbes(p *platform.Platform, d time.Duration, probes []faultProbe) *faultTally {
	tally := &faultTally{counts: map[string]map[string]int{}, slowest: map[string]time.Duration{}, wrong: map[string]string{}}
	for _, pr := range probes {
		tally.counts[pr.name] = map[string]int{}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, pr := range probes {
		wg.Go(func() {
			for n := 0; time.Since(start) < d; n++ {
				into := time.Since(start)
				r, took, err := pr.call(n)
				what, msg := fmt.Sprint(r.Status, " ", r.Str("code")), ""
				switch {
				case err != nil:
					what, msg = "no answer", fmt.Sprintf("%v after %v", err, took.Round(time.Millisecond))
				case took > 3*time.Second:
					msg = fmt.Sprintf("answered %d after %v, want under 3 s", r.Status, took.Round(time.Millisecond))
				default:
					msg = pr.judge(r, into)
				}
				tally.mu.Lock()
				tally.slowest[pr.name] = max(tally.slowest[pr.name], took)
				tally.counts[pr.name][what]++
				if msg != "" && tally.wrong[pr.name] == "" {
					tally.wrong[pr.name] = fmt.Sprintf("%.1fs into the outage: %s", time.Since(start).Seconds(), msg)
				}
				tally.mu.Unlock()
				time.Sleep(250 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	return tally
}

// TestRedisStoppedForFiveSeconds stops Redis for five seconds under a
// steady trickle of calls. The calls that need it (login, refresh, and any
// call with a token: every service checks the session's revocation in
// Redis and fails closed, once its half-second "not revoked" cache has
// expired) are refused within 3 s with a 503 problem; the ones
// that do not (registration, the catalogue) keep working, the gateway's
// rate limiter limiting locally. Once Redis is back, with no service
// restarted, login works again within seconds and the sessions opened
// before the outage (kept in Redis's append-only file) still work.
func TestRedisStoppedForFiveSeconds(t *testing.T) {
	const outage = 5 * time.Second
	begin := time.Now()
	p := platform.Start(t, platform.Options{Env: faultEnv()})
	t.Logf("platform up in %v", time.Since(begin).Round(time.Millisecond))
	inst := register(t, p, "Ines Instructor", "instructor")
	crs := newCourse(t, p, inst, "Redis outage "+unique(t), 0, 1)
	reader := register(t, p, "Rhea Reader", "")
	wallet := defaultWallet(t, p, reader)
	refresh := reader.Refresh
	other := register(t, p, "Otto Other", "")

	anyone := func(method, path string, body any) func(int) (apptest.Reply, time.Duration, error) {
		return func(int) (apptest.Reply, time.Duration, error) {
			return faultDo(p, 10*time.Second, method, path, "", body)
		}
	}
	withToken := func(method, path string) func(int) (apptest.Reply, time.Duration, error) {
		return func(int) (apptest.Reply, time.Duration, error) {
			return faultDo(p, 10*time.Second, method, path, reader.Token, nil)
		}
	}
	unavailable := func(code string) func(apptest.Reply, time.Duration) string {
		return func(r apptest.Reply, _ time.Duration) string {
			return faultProblem(r, http.StatusServiceUnavailable, code)
		}
	}
	// A service keeps a "not revoked" answer for revocation.DefaultNotRevokedTTL,
	// so a token call made in the first moments of the outage may still be
	// served; after that it must be refused.
	tokenChecked := func(r apptest.Reply, into time.Duration) string {
		if r.Status == http.StatusOK && into < revocation.DefaultNotRevokedTTL+250*time.Millisecond {
			return ""
		}
		return faultProblem(r, http.StatusServiceUnavailable, "auth_unavailable")
	}
	ok := func(status int) func(apptest.Reply, time.Duration) string {
		return func(r apptest.Reply, _ time.Duration) string {
			if r.Status != status {
				return fmt.Sprintf("got %d %.300s, want %d", r.Status, r.Raw, status)
			}
			return ""
		}
	}
	run := unique(t)
	probes := []faultProbe{
		{"login", anyone(http.MethodPost, "/api/v1/auth/login", map[string]any{"email": other.Email, "password": other.Password}), unavailable("")},
		{"refresh", anyone(http.MethodPost, "/api/v1/auth/token/refresh", map[string]any{"refresh_token": refresh}), unavailable("")},
		{"me (token)", withToken(http.MethodGet, "/api/v1/auth/me"), tokenChecked},
		{"wallets (token)", withToken(http.MethodGet, "/api/v1/wallets"), tokenChecked},
		{"enrollments (token)", withToken(http.MethodGet, "/api/v1/enrollments"), tokenChecked},
		{"catalogue", anyone(http.MethodGet, "/api/v1/courses", nil), ok(http.StatusOK)},
		{"course", anyone(http.MethodGet, "/api/v1/courses/"+crs.ID, nil), ok(http.StatusOK)},
		{"register", func(n int) (apptest.Reply, time.Duration, error) {
			return faultDo(p, 10*time.Second, http.MethodPost, "/api/v1/auth/register", "", map[string]any{
				"email": fmt.Sprintf("outage-%s-%d@example.com", run, n), "password": "e2e-" + run, "name": "Outage Newcomer"})
		}, ok(http.StatusCreated)},
	}

	stop := time.Now()
	p.Redis.Stop()
	t.Logf("Redis stopped (SIGTERM) in %v", time.Since(stop).Round(time.Millisecond))
	tally := faultRunProbes(p, outage, probes)
	for _, pr := range probes {
		t.Logf("  %-20s {%s}, slowest %v", pr.name, faultCounts(tally.counts[pr.name]), tally.slowest[pr.name].Round(time.Millisecond))
		if w := tally.wrong[pr.name]; w != "" {
			t.Errorf("%s with Redis down: %s", pr.name, w)
		}
	}

	restart := time.Now()
	p.Redis.Start()
	t.Logf("Redis down %v, ready %v after its start", time.Since(stop).Round(time.Millisecond), time.Since(restart).Round(time.Millisecond))
	// Back without a restart: each Redis-backed call answers normally
	// again (a service's Redis pool retries its dial once a second), the
	// old tokens included — the session was kept in the append-only file.
	login := map[string]any{"email": other.Email, "password": other.Password}
	for _, c := range []struct {
		name, method, path, token string
		body                      any
		status                    int
	}{
		{"login", http.MethodPost, "/api/v1/auth/login", "", login, http.StatusOK},
		{"me (old token)", http.MethodGet, "/api/v1/auth/me", reader.Token, nil, http.StatusOK},
		{"wallet (old token)", http.MethodGet, "/api/v1/wallets/" + wallet, reader.Token, nil, http.StatusOK},
		{"enrollments (old token)", http.MethodGet, "/api/v1/enrollments", reader.Token, nil, http.StatusOK},
	} {
		// Four answers in a row, so that both gateway replicas (NGINX
		// alternates between them) are seen to have recovered.
		var last apptest.Reply
		var lastErr error
		streak := 0
		took, back := faultWait(10*time.Second, func() bool {
			last, _, lastErr = faultDo(p, 10*time.Second, c.method, c.path, c.token, c.body)
			if lastErr != nil || last.Status != c.status {
				streak = 0
				return false
			}
			streak++
			return streak == 4
		})
		if !back {
			t.Errorf("%s: still %d %s (%v) %v after Redis came back, with no service restarted", c.name, last.Status, last.Raw, lastErr, took)
			continue
		}
		t.Logf("%-24s answers %d again %v after Redis was started", c.name, c.status, time.Since(restart).Round(time.Millisecond))
	}
	if got := balance(t, p, reader, wallet); got != 0 {
		t.Errorf("balance %d, want 0", got)
	}
	r := api(p).Do(t, http.MethodPost, "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": refresh})
	reader.Token, reader.Refresh = wantTokens(t, r)
	apptest.Want(t, api(p).Do(t, http.MethodGet, "/api/v1/auth/me", reader.Token, nil), http.StatusOK, "")
	t.Logf("whole run %v", time.Since(begin).Round(time.Millisecond))
}

// TestKafkaStoppedForTenSeconds stops the Kafka broker for ten seconds
// while users register, enroll in a free course, buy paid ones and make
// transfers: every write succeeds, its events waiting in the writer's
// outbox, and what needs an event (a new user's wallet, a paid
// enrollment's charge) waits too. Once the broker is back every event
// flows: each newcomer gets exactly one wallet, every paid enrollment is
// charged once and activated, every balance is exact, and the topics hold
// one user.registered, one wallet.created and one payment outcome per
// user or enrollment (a republished copy, with the same event id, is
// allowed: delivery is at least once, effects exactly once).
func TestKafkaStoppedForTenSeconds(t *testing.T) {
	const (
		outage  = 10 * time.Second
		nPaid   = 5
		payerIn = 10000
	)
	begin := time.Now()
	p := platform.Start(t, platform.Options{Env: faultEnv("FINANCE_FEE_BASIS_POINTS", strconv.Itoa(faultFeeBasisPoints))})
	t.Logf("platform up in %v", time.Since(begin).Round(time.Millisecond))
	run := unique(t)
	inst := register(t, p, "Ines Instructor", "instructor")
	instWallet := defaultWallet(t, p, inst)
	free := newCourse(t, p, inst, "Free during the outage "+run, 0, 1)
	paid := make([]course, nPaid)
	var paidTotal int64
	for i := range paid {
		paid[i] = newCourse(t, p, inst, fmt.Sprintf("Paid during the outage %d %s", i, run), 1500+100*int64(i), 1)
		paidTotal += paid[i].Price
	}
	payer, payee, buyer := register(t, p, "Pay Er", ""), register(t, p, "Pay Ee", ""), register(t, p, "Bu Yer", "")
	payerW, payeeW, buyerW := defaultWallet(t, p, payer), defaultWallet(t, p, payee), defaultWallet(t, p, buyer)
	fund(t, p, payer, payerW, payerIn)
	fund(t, p, buyer, buyerW, paidTotal)

	stop := time.Now()
	p.Kafka.Stop()
	t.Logf("Kafka stopped (SIGTERM) in %v", time.Since(stop).Round(time.Millisecond))
	start := time.Now()
	var newcomers []*user
	var paidIDs []string
	var transferred int64
	for round := 0; time.Since(start) < outage; round++ {
		u := register(t, p, fmt.Sprint("Newcomer ", round), "")
		newcomers = append(newcomers, u)
		r := enroll(t, p, u, free.ID, "free-"+unique(t))
		apptest.Want(t, r, http.StatusCreated, "")
		if e := r.Obj("enrollment"); e["status"] != "active" || e["course_id"] != free.ID || e["user_id"] != u.ID {
			t.Fatalf("free enrollment with Kafka down: got %s, want active", r.Raw)
		}
		amount := int64(100 + round)
		r = api(p).Do(t, http.MethodPost, "/api/v1/transfers", payer.Token, map[string]any{
			"from_wallet_id": payerW, "to_wallet_id": payeeW, "amount": amount, "currency": currency,
			"description": "during the Kafka outage"}, "Idempotency-Key", "transfer-"+unique(t))
		apptest.Want(t, r, http.StatusCreated, "")
		if tr := r.Obj("transfer"); tr["status"] != "posted" || num(t, tr["amount"]) != amount {
			t.Fatalf("transfer with Kafka down: got %s, want posted for %d", r.Raw, amount)
		}
		transferred += amount
		if round < nPaid {
			r = enroll(t, p, buyer, paid[round].ID, "paid-"+unique(t))
			apptest.Want(t, r, http.StatusAccepted, "")
			e := r.Obj("enrollment")
			if e["status"] != "pending_payment" {
				t.Fatalf("paid enrollment with Kafka down: got %s, want pending_payment", r.Raw)
			}
			paidIDs = append(paidIDs, e["id"].(string))
		}
		time.Sleep(time.Until(start.Add(time.Duration(round+1) * time.Second)))
	}
	if len(paidIDs) != nPaid {
		t.Fatalf("only %d paid enrollments in the outage, want %d", len(paidIDs), nPaid)
	}
	// What needs an event has waited: no wallet for the newcomers, no
	// answer to the paid enrollments.
	for _, u := range newcomers {
		if w := faultWallets(t, p, u); len(w) != 0 {
			t.Errorf("%s has wallets %v while Kafka is down: user.registered cannot have reached finance", u.Email, w)
		}
	}
	for _, id := range paidIDs {
		if e := enrollment(t, p, buyer, id); e["status"] != "pending_payment" {
			t.Errorf("enrollment %s is %v while Kafka is down, want pending_payment", id, e["status"])
		}
	}
	t.Logf("during the %v outage: %d users registered, %d free enrollments, %d transfers (%d), %d paid enrollments requested",
		time.Since(start).Round(time.Millisecond), len(newcomers), len(newcomers), len(newcomers), transferred, len(paidIDs))

	restart := time.Now()
	p.Kafka.Start()
	ready := time.Now()
	t.Logf("Kafka down %v, ready %v after its start", time.Since(stop).Round(time.Millisecond), ready.Sub(restart).Round(time.Millisecond))

	waiting := map[string]bool{}
	for _, u := range newcomers {
		waiting["wallet of "+u.Email] = true
	}
	for _, id := range paidIDs {
		waiting["enrollment "+id] = true
	}
	took, done := faultWait(60*time.Second, func() bool {
		for _, u := range newcomers {
			if waiting["wallet of "+u.Email] && len(faultWallets(t, p, u)) > 0 {
				delete(waiting, "wallet of "+u.Email)
			}
		}
		for _, id := range paidIDs {
			if waiting["enrollment "+id] && enrollment(t, p, buyer, id)["status"] != "pending_payment" {
				delete(waiting, "enrollment "+id)
			}
		}
		return len(waiting) == 0
	})
	if !done {
		t.Fatalf("%v after Kafka was back, still waiting for %d: %v", took, len(waiting), waiting)
	}
	t.Logf("every event of the outage applied %v after Kafka was ready", took.Round(time.Millisecond))

	// Each effect once.
	for _, u := range newcomers {
		w := faultWallets(t, p, u)
		if len(w) != 1 || w[0]["user_id"] != u.ID || w[0]["currency"] != currency || num(t, w[0]["balance"]) != 0 {
			t.Errorf("%s: wallets %v, want exactly one, empty, in %s", u.Email, w, currency)
		}
	}
	var instShare int64
	var buyerCharges, instCharges []int64
	for i, id := range paidIDs {
		if e := enrollment(t, p, buyer, id); e["status"] != "active" {
			t.Errorf("paid enrollment %s: %v (%v), want active", id, e["status"], e["cancel_reason"])
		}
		buyerCharges = append(buyerCharges, -paid[i].Price)
		instCharges = append(instCharges, paid[i].Price-faultFee(paid[i].Price))
		instShare += paid[i].Price - faultFee(paid[i].Price)
	}
	for _, c := range []struct {
		who    *user
		wallet string
		want   int64
	}{{buyer, buyerW, 0}, {inst, instWallet, instShare}, {payer, payerW, payerIn - transferred}, {payee, payeeW, transferred}} {
		if got := balance(t, p, c.who, c.wallet); got != c.want {
			t.Errorf("%s: balance %d, want %d", c.who.Name, got, c.want)
		}
	}
	faultWantLedger(t, "buyer", faultList(t, p, buyer, "/api/v1/wallets/"+buyerW+"/transactions"),
		map[string][]int64{"topup": {paidTotal}, "enrollment_charge": buyerCharges})
	faultWantLedger(t, "instructor", faultList(t, p, inst, "/api/v1/wallets/"+instWallet+"/transactions"),
		map[string][]int64{"enrollment_charge": instCharges})

	// The events themselves: one of each, by event id.
	about := map[string]bool{}
	for _, u := range newcomers {
		about[u.ID] = true
	}
	for _, id := range paidIDs {
		about[id] = true
	}
	perSubject := map[string]int{} // "type subject" → distinct events
	seen := map[string]bool{}
	copies := 0
	for _, topic := range []string{events.TopicAuth, events.TopicFinance} {
		for _, rec := range kafkatest.ReadAll(t, p.Kafka.Addr, topic, 0, 20*time.Second) {
			ev, err := events.Parse(rec.Value)
			if err != nil {
				t.Fatalf("%s offset %d: %v", topic, rec.Offset, err)
			}
			if seen[ev.ID] {
				copies++
				continue
			}
			seen[ev.ID] = true
			var d struct {
				UserID       string `json:"user_id"`
				EnrollmentID string `json:"enrollment_id"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatalf("%s %s: %v", ev.Type, ev.ID, err)
			}
			switch {
			case d.EnrollmentID != "" && about[d.EnrollmentID]:
				perSubject[ev.Type+" "+d.EnrollmentID]++
			case d.EnrollmentID == "" && about[d.UserID]:
				perSubject[ev.Type+" "+d.UserID]++
			}
		}
	}
	for _, u := range newcomers {
		for _, typ := range []string{"azora.auth.user.registered", "azora.finance.wallet.created"} {
			if n := perSubject[typ+" "+u.ID]; n != 1 {
				t.Errorf("%s of %s: %d distinct events, want 1", typ, u.Email, n)
			}
		}
	}
	for _, id := range paidIDs {
		if n, f := perSubject["azora.finance.payment.completed "+id], perSubject["azora.finance.payment.failed "+id]; n != 1 || f != 0 {
			t.Errorf("enrollment %s: %d payment.completed and %d payment.failed, want one completed", id, n, f)
		}
	}
	t.Logf("topics read: %d distinct events, %d republished copies", len(seen), copies)
	t.Logf("whole run %v", time.Since(begin).Round(time.Millisecond))
}
